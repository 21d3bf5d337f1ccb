"""Bad drawings through the Python API: every input either gives a valid answer or raises ImageError
(the documented error), never another exception; and the recognizer answers normally afterwards.
Hypothesis generates arrays and Sketchpad dicts of any shape, dtype and value."""
from __future__ import annotations

import io

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from train.pen_digits import load_pen_digits, render_sketchpad
from mnist_model import DigitRecognizer, ImageError
from mnist_model.preprocess import MAX_SIDE, to_mnist

CANVAS = 448


@pytest.fixture(scope="module")
def recognizer() -> DigitRecognizer:
    return DigitRecognizer.load()


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def noise(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def one_dot() -> np.ndarray:
    """A single brush dab, as a layer: transparent except for a small opaque disk."""
    layer = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    yy, xx = np.mgrid[:CANVAS, :CANVAS]
    layer[(yy - 200) ** 2 + (xx - 250) ** 2 <= 16 ** 2] = (0, 0, 0, 255)
    return layer


white = np.full((CANVAS, CANVAS, 3), 255, np.uint8)
clear = np.zeros((CANVAS, CANVAS, 4), np.uint8)
# Inputs a visitor or a script can send that hold no drawing: the answer is "nothing drawn".
BLANK = {
    "empty canvas": {"background": None, "layers": [], "composite": None},
    "white pad, no strokes": {"background": white, "layers": [], "composite": white},
    "all layers transparent": {"background": None, "layers": [clear, clear], "composite": clear},
    "full black canvas": {"background": np.zeros_like(white), "layers": [], "composite": np.zeros_like(white)},
    "1x1 image": np.zeros((1, 1), np.uint8),
    "1x1 white RGBA": np.full((1, 1, 4), 255, np.uint8),
    "uniform float": np.full((30, 40), 0.5),
}
# Inputs that are not images: the answer is ImageError with a message.
REFUSED = {
    "int64 array": np.zeros((28, 28), np.int64),
    "complex array": np.zeros((28, 28), np.complex64),
    "object array": np.array([[None, 1]]),
    "NaN floats": np.full((28, 28), np.nan),
    "+inf floats": np.full((28, 28), np.inf),
    "-inf in one pixel": np.where(np.eye(28, dtype=bool), -np.inf, 0.0),
    "float out of [0, 1]": np.full((28, 28), 255.0),
    "0-d array": np.array(3.0),
    "5-d array": np.zeros((2, 2, 2, 2, 2)),
    "5 channels": np.zeros((8, 8, 5), np.uint8),
    "zero-height": np.zeros((0, 10), np.uint8),
    "too wide": np.zeros((1, MAX_SIDE + 1), np.uint8),
    "a number": 3,
    "nested list": [[0, 255], [255, 0]],
    "raw bytes": b"\x89PNG",
    "missing file": "no/such/file.png",
    "unknown dict key": {"background": None, "layers": [], "composite": None, "script": "x"},
    "layers not a list": {"background": None, "layers": "abc", "composite": None},
    "a number as a layer": {"background": None, "layers": [3], "composite": None},
    "layers of two sizes": {"background": None, "layers": [clear, clear[:100]], "composite": None},
}


@pytest.mark.parametrize("name", BLANK)
def test_inputs_without_a_drawing_read_as_nothing_drawn(recognizer, name):
    p = recognizer.predict(BLANK[name])
    assert p.label is None and not p.probabilities.any() and not p.image28.any()


@pytest.mark.parametrize("name", REFUSED)
def test_inputs_that_are_not_images_raise_image_error_with_a_message(recognizer, name):
    with pytest.raises(ImageError) as error:
        recognizer.predict(REFUSED[name])
    assert len(str(error.value)) > 10


def test_one_dot_is_read_as_a_small_centred_blob(recognizer):
    p = recognizer.predict({"background": white, "layers": [one_dot()], "composite": None})
    assert p.label is not None and p.probabilities.sum() == pytest.approx(1, abs=1e-5)
    rows, cols = np.nonzero(p.image28)
    assert np.ptp(rows) <= 4 and np.ptp(cols) <= 4 and abs(rows.mean() - 14) <= 1 and abs(cols.mean() - 14) <= 1


def test_noise_and_a_huge_image_get_an_answer(recognizer):
    assert recognizer.predict(noise((CANVAS, CANVAS, 3))).label is not None
    huge = np.full((10_000, 10_000), 255, np.uint8)          # 100 MB of paper with one stroke on it
    huge[3000:7000, 4900:5100] = 0
    p = recognizer.predict(huge)
    assert p.label == 1, p.probabilities


def test_unreadable_files_raise_image_error(recognizer, tmp_path):
    good = png_bytes(noise((64, 64, 3)))
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.png").write_text("this is not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    for name in ("truncated.png", "text.png", "empty.png"):
        with pytest.raises(ImageError, match="cannot read"):
            recognizer.predict(str(tmp_path / name))
    lazy = Image.open(tmp_path / "truncated.png")           # PIL decodes only when asked, inside to_mnist
    with pytest.raises(ImageError, match="cannot decode"):
        recognizer.predict(lazy)
    with pytest.raises(ImageError):                          # a damaged layer inside a Sketchpad value
        recognizer.predict({"background": None, "layers": [str(tmp_path / "truncated.png")], "composite": None})


def test_corrupted_png_files_never_raise_anything_but_image_error(tmp_path):
    """300 PNGs with 1-8 random bytes overwritten (half of them in the header): each decodes or is refused."""
    data = png_bytes(noise((48, 48, 3)))
    rng = np.random.default_rng(0)
    outcomes = {"read": 0, "refused": 0}
    for trial in range(300):
        damaged = bytearray(data)
        span = 120 if trial % 2 else len(data)
        for at in rng.integers(0, span, rng.integers(1, 9)):
            damaged[at] = rng.integers(0, 256)
        path = tmp_path / "damaged.png"
        path.write_bytes(damaged)
        try:
            out = to_mnist(str(path))
            assert out.dtype == np.uint8 and out.shape == (28, 28)
            outcomes["read"] += 1
        except ImageError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 100, outcomes


def test_recognizer_answers_normally_after_every_bad_input(recognizer, pen_digits_path, tmp_path):
    value = render_sketchpad(load_pen_digits(pen_digits_path)[0], canvas=CANVAS)
    before = recognizer.predict(value).probabilities
    for bad in [*BLANK.values(), *REFUSED.values()]:
        try:
            recognizer.predict(bad)
        except ImageError:
            pass
    np.testing.assert_array_equal(recognizer.predict(value).probabilities, before)


# ---- properties: to_mnist returns a valid 28 x 28 or raises ImageError, for anything array-like ----

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
