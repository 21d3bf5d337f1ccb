"""to_mnist: the same drawing gives the same 28x28 whatever its position, size, brush and format;
MNIST digits pass through nearly unchanged; blank input is not an error; non-images are.
Hypothesis generates arrays and Sketchpad dicts of any shape, dtype and value: each gives a valid
28x28 image or ImageError."""
from __future__ import annotations

import itertools

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from harness.hostile import DAMAGED_IMAGES
from mnist_model import ImageError, to_mnist
from mnist_model.preprocess import _stroke_width
from train.pen_digits import PenDigit, load_pen_digits, render_sketchpad


@pytest.fixture(scope="module")
def pen(pen_digits_path):
    digits = load_pen_digits(pen_digits_path)
    picks = np.random.default_rng(0).choice(len(digits), 12, replace=False)
    return [digits[i] for i in picks]


@pytest.fixture(scope="module")
def drawing(pen):
    """A mid-sized, default-brush Sketchpad drawing and its 28x28 result."""
    value = render_sketchpad(pen[0], canvas=400, height=0.5, brush=10, seed=3)
    return value, to_mnist(value)


def blurred_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pixel correlation after a [1 2 1] blur: a one-pixel offset of a 2-3 px stroke is not a
    difference to the model (it is trained with ~1.4 px of shift jitter), a changed shape is."""
    def blur(x):
        x = np.pad(x.astype(np.float64), 1)
        x = (x[:-2] + 2 * x[1:-1] + x[2:]) / 4
        return (x[:, :-2] + 2 * x[:, 1:-1] + x[:, 2:]) / 4
    return float(np.corrcoef(blur(a).ravel(), blur(b).ravel())[0, 1])


def test_same_digit_anywhere_any_size_any_brush_gives_the_same_image(pen):
    grid = list(itertools.product((400, 800), (0.25, 0.5, 0.85), (3, 10, 25)))
    per_digit = []
    for k, digit in enumerate(pen):
        reference = to_mnist(render_sketchpad(digit, 800, 0.5, 10, seed=k))
        corr = [blurred_correlation(reference, to_mnist(render_sketchpad(digit, c, h, b, seed=100 + k)))
                for c, h, b in grid]
        assert min(corr) > 0.7, (digit.id, dict(zip(grid, np.round(corr, 2))))
        per_digit.append(np.mean(corr))
    assert min(per_digit) > 0.85 and np.mean(per_digit) > 0.9, np.round(per_digit, 3)


def test_position_alone_changes_nothing(pen):
    images = [to_mnist(render_sketchpad(pen[1], 800, 0.5, 10, seed=s)) for s in range(4)]
    for image in images[1:]:
        np.testing.assert_array_equal(image, images[0])


def ink_width(image: np.ndarray) -> float:
    """Mean stroke width of a 28x28 uint8 image, px."""
    return _stroke_width(image.astype(np.float32) / 255)


def test_thin_and_fat_brushes_both_come_out_with_mnist_stroke_width(pen, mnist):
    low, high = np.percentile([ink_width(image) for image in mnist.test_x[:1000].numpy()], [10, 90])
    for c, h, b in [(800, 0.85, 3), (800, 0.25, 25), (400, 0.85, 3), (400, 0.25, 25)]:
        widths = [ink_width(to_mnist(render_sketchpad(d, c, h, b, seed=1))) for d in pen]
        assert low < np.median(widths) < high, ((c, h, b), (low, high), np.round(widths, 2))


def test_every_input_kind_gives_the_same_result(drawing, tmp_path):
    value, expected = drawing
    layer, composite = value["layers"][0], value["composite"]
    rgb = composite[..., :3]
    grey = rgb[..., 0]
    Image.fromarray(layer).save(tmp_path / "layer.png")
    Image.fromarray(composite).save(tmp_path / "composite.png")
    Image.fromarray(grey).save(tmp_path / "grey.png")
    exact = {
        "dict of PIL images": {"background": Image.fromarray(value["background"]),
                               "layers": [Image.fromarray(layer)], "composite": Image.fromarray(composite)},
        "dict of file paths": {"background": None, "layers": [str(tmp_path / "layer.png")],
                               "composite": tmp_path / "composite.png"},
        "dict, composite only": {"background": None, "layers": [], "composite": composite},
        "dict, empty layer": {"background": None, "layers": [np.zeros_like(layer)], "composite": composite},
        "RGBA layer": layer, "RGBA composite": composite, "RGB": rgb, "(H, W)": grey,
        "(H, W, 1)": grey[..., None], "white on black": 255 - grey, "float": grey / 255.0,
        "float32 RGB": (rgb / 255.0).astype(np.float32), "uint16": grey.astype(np.uint16) * 257,
        "LA array": np.stack([np.zeros_like(grey), layer[..., 3]], -1),
        "PIL L": Image.fromarray(grey), "PIL RGB": Image.fromarray(rgb), "PIL RGBA": Image.fromarray(layer),
        "PIL LA": Image.fromarray(grey).convert("LA"), "PIL I;16": Image.fromarray(grey.astype(np.uint16) * 257),
        "PIL P": Image.fromarray(grey).convert("P"), "file path": str(tmp_path / "grey.png"),
    }
    for name, image in exact.items():
        np.testing.assert_array_equal(to_mnist(image), expected, err_msg=name)
    # Mode "1" and a boolean array keep only black or white: the shape must survive, not the greys.
    for name, image in {"PIL 1": Image.fromarray(grey).convert("1"), "bool": grey < 128}.items():
        assert blurred_correlation(to_mnist(image), expected) > 0.9, name


def test_mnist_digits_pass_nearly_unchanged(mnist):
    x = mnist.test_x[:2000].numpy()
    out = np.stack([to_mnist(image) for image in x])
    unchanged = np.all(out == x, axis=(1, 2))
    assert unchanged.mean() > 0.85, unchanged.mean()     # the other ~12% have their stroke width normalised
    assert np.mean([blurred_correlation(a, b) for a, b in zip(out, x)]) > 0.99


@pytest.mark.parametrize("blank", [
    {"background": None, "layers": [], "composite": None},
    {"background": np.full((400, 400, 4), 255, np.uint8), "layers": [np.zeros((400, 400, 4), np.uint8)],
     "composite": np.full((400, 400, 4), 255, np.uint8)},
    {"background": None, "layers": [np.zeros((400, 400, 4), np.uint8)], "composite": None},
    np.zeros((28, 28), np.uint8), np.full((800, 800, 3), 255, np.uint8), np.zeros((300, 200, 4), np.uint8),
    Image.new("RGB", (64, 64), "black"), np.full((9, 9), 0.5), np.full((1, 1), 255, np.uint8),
], ids=["empty dict", "white canvas", "transparent layer", "black 28", "white RGB", "transparent RGBA",
        "black PIL", "flat grey", "one white pixel"])
def test_blank_input_gives_an_empty_image(blank):
    out = to_mnist(blank)
    assert out.shape == (28, 28) and out.dtype == np.uint8 and not out.any()


def test_a_dot_gives_a_small_centred_mark():
    click = PenDigit("dot", "test", 0, (((0.5, 0.5),),))
    for image in (np.pad(np.full((1, 1), 255, np.uint8), 10), render_sketchpad(click, 800, 0.5, 25, seed=0)):
        out = to_mnist(image)
        ys, xs = np.nonzero(out)
        assert 0 < len(ys) < 20 and abs(ys.mean() - 14) < 1.5 and abs(xs.mean() - 14) < 1.5


@pytest.mark.parametrize("bad", [
    "not/a/file.png", 3, [[0, 255]], b"\x89PNG", None, np.zeros((0, 28), np.uint8),
    np.zeros((28, 28, 5), np.uint8), np.zeros((2, 28, 28, 1), np.uint8), np.array([[np.nan, 0.0]]), np.array([[np.inf, 0.0]]),
    np.full((4, 4), 2.0), np.full((4, 4), 7, np.int64), np.zeros((1, 10_001), np.uint8),
    {"background": None, "layers": "x", "composite": None}, {"image": np.zeros((4, 4))},
    {"background": None, "layers": [np.zeros((4, 4, 4), np.uint8), np.full((5, 5, 4), 255, np.uint8)],
     "composite": None},
], ids=["missing file", "int", "list", "bytes", "None", "zero size", "5 channels", "4-d", "NaN", "inf",
        "float > 1", "int64", "absurd size", "layers not a list", "unknown key", "layer sizes differ"])
def test_non_images_raise_image_error(bad):
    with pytest.raises(ImageError):
        to_mnist(bad)


def test_a_file_that_is_not_an_image_raises_image_error(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(ImageError):
        to_mnist(tmp_path / "notes.png")
    with pytest.raises(ImageError):
        to_mnist(str(tmp_path))


DTYPES = [np.uint8, np.uint16, np.bool_, np.float16, np.float32, np.float64, np.int8, np.int32, np.int64,
          np.complex64]
shapes = st.one_of(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=48),
                   st.tuples(st.integers(1, 48), st.integers(1, 48), st.integers(1, 5)),
                   hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
arrays = st.builds(lambda dtype, shape: (dtype, shape), st.sampled_from(DTYPES), shapes).flatmap(
    lambda ds: hnp.arrays(ds[0], ds[1], elements=hnp.from_dtype(np.dtype(ds[0]), allow_nan=True,
                                                                     allow_infinity=True)))
unit_floats = hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=48),
                         elements=st.floats(0, 1, width=32))
sketch_parts = st.one_of(st.none(), arrays, unit_floats, st.integers(), st.text(max_size=5))
sketches = st.dictionaries(st.sampled_from(["background", "layers", "composite", "extra"]),
                           st.one_of(sketch_parts, st.lists(sketch_parts, max_size=3)), max_size=4)
PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def valid_or_image_error(value) -> np.ndarray | None:
    try:
        out = to_mnist(value)
    except ImageError as e:
        assert str(e)
        return None
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.shape == (28, 28)
    return out


@PROPERTY
@given(arrays)
def test_any_array_gives_a_valid_image_or_image_error(array):
    valid_or_image_error(array)


@PROPERTY
@given(unit_floats)
def test_any_float_image_in_range_is_accepted_and_a_uniform_one_is_blank(array):
    out = valid_or_image_error(array)
    assert out is not None
    assert not valid_or_image_error(np.full_like(array, array.flat[0])).any()


@PROPERTY
@given(sketches)
def test_any_sketchpad_dict_gives_a_valid_image_or_image_error(value):
    valid_or_image_error(value)


@pytest.mark.parametrize("name", sorted(DAMAGED_IMAGES))
def test_damaged_files_of_formats_pil_decodes_raise_image_error(name, tmp_path):
    # Before: IndexError (QOI), AttributeError (SPIDER), BLPFormatError (BLP) escaped as a bare "Error".
    path = tmp_path / f"damaged.{name}"
    path.write_bytes(DAMAGED_IMAGES[name])
    with pytest.raises(ImageError, match="PNG, JPEG, WebP, GIF or BMP"):
        to_mnist(path)
    with pytest.raises(ImageError):
        to_mnist({"background": str(path), "layers": [], "composite": None})
