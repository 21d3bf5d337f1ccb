"""DigitRecognizer: predictions equal softmax(model(x)) computed by hand, batches equal single
calls, threads do not interfere, and accuracy on real pen digits and MNIST meets stated floors.
Bad drawings through the Python API either give a valid answer or raise ImageError (the documented
error), never another exception, and the rec answers normally afterwards."""
from __future__ import annotations

import io
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_model import MLP, CheckpointError, DigitRecognizer, ImageError, save_checkpoint
from mnist_model.preprocess import MAX_SIDE, to_mnist
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS

# Floor for the CI replay below, which guards the whole path from drawing to label. The shipped
# checkpoint trained on these dev digits and reads all 300 of this fixed sample (its recipe scores
# about 96.6% on writers it never saw: python -m bench.pen_heldout; the MNIST-only recipe's model read
# 95.7% of this sample). The sample never changes, so only a real regression fails it.
PEN_FLOOR = 0.97


@pytest.fixture(scope="module")
def rec() -> DigitRecognizer:
    return DigitRecognizer.load()


@pytest.fixture(scope="module")
def drawings(pen_digits_path):
    digits = load_pen_digits(pen_digits_path)[:6]
    return [render_sketchpad(d, 400, 0.5, 10, seed=i) for i, d in enumerate(digits)]


def by_hand(model: MLP, mean: float, std: float, image28: np.ndarray) -> np.ndarray:
    x = (torch.tensor(image28, dtype=torch.float64) / 255 - mean) / std
    model64 = MLP(model.config).double()
    model64.load_state_dict(model.state_dict())
    with torch.no_grad():
        logits = model64(x.reshape(1, 784))[0]
    e = (logits - logits.max()).exp()
    return (e / e.sum()).numpy()


def test_predict_equals_softmax_of_the_model_by_hand(rec, drawings):
    for value in drawings:
        p = rec.predict(value)
        expected = by_hand(rec.model, rec.mean, rec.std, p.image28)
        np.testing.assert_allclose(p.probabilities, expected, atol=1e-5)
        assert p.label == int(np.argmax(expected)) and p.image28.shape == (28, 28) and p.image28.dtype == np.uint8


def test_probabilities_of_preprocessed_pictures_are_the_model_by_hand(rec, drawings):
    pictures = np.stack([rec.predict(value).image28 for value in drawings])
    got = rec.probabilities(pictures)
    for picture, row in zip(pictures, got):
        np.testing.assert_allclose(row, by_hand(rec.model, rec.mean, rec.std, picture), atol=1e-5)


def test_any_saved_run_loads_and_predicts_with_its_own_normalisation(tmp_path, drawings):
    torch.manual_seed(1)
    model = MLP()
    path = save_checkpoint(tmp_path / "run.safetensors", model, {"mean": 0.2, "std": 0.4})
    rec = DigitRecognizer.load(path)
    p = rec.predict(drawings[0])
    np.testing.assert_allclose(p.probabilities, by_hand(model, 0.2, 0.4, p.image28), atol=1e-5)
    with pytest.raises(CheckpointError):
        DigitRecognizer.load(tmp_path / "missing.safetensors")


def test_nothing_drawn_gives_no_label_and_zero_probabilities(rec):
    for blank in ({"background": None, "layers": [], "composite": None}, np.zeros((800, 800, 4), np.uint8)):
        p = rec.predict(blank)
        assert p.label is None and not p.probabilities.any() and not p.image28.any()


def test_batch_is_one_forward_pass_and_equals_single_calls(rec, drawings):
    images = drawings[:3] + [np.zeros((28, 28), np.uint8)] + drawings[3:]
    calls = []
    handle = rec.model.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    try:
        batch = rec.predict_batch(images)
    finally:
        handle.remove()
    assert calls == [len(drawings)]
    for image, p in zip(images, batch):
        single = rec.predict(image)
        assert p.label == single.label
        np.testing.assert_allclose(p.probabilities, single.probabilities, atol=1e-6)
    assert batch[3].label is None and rec.predict_batch([]) == []


def test_bad_input_raises_image_error_and_spoils_no_batch(rec, drawings):
    with pytest.raises(ImageError):
        rec.predict(np.array([[np.nan]]))
    with pytest.raises(ImageError):
        rec.predict_batch([drawings[0], "no such file.png"])


def test_many_threads_at_once_give_the_same_answers(rec, drawings):
    expected = [rec.predict(v) for v in drawings]
    jobs = list(itertools.islice(itertools.cycle(range(len(drawings))), 96))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: (i, rec.predict(drawings[i])), jobs))
    for i, p in results:
        assert p.label == expected[i].label
        np.testing.assert_array_equal(p.image28, expected[i].image28)
        np.testing.assert_allclose(p.probabilities, expected[i].probabilities, atol=1e-6)


def test_real_pen_digits_replayed_as_drawings_meet_the_floor(rec, pen_digits_path):
    """300 dev digits, each drawn once at a random grid point (canvas, height, brush) and position."""
    digits = load_pen_digits(pen_digits_path)
    rng = np.random.default_rng(0)
    grid = list(itertools.product((400, 800), (0.25, 0.5, 0.85), (3, 10, 25)))
    picks = rng.choice(len(digits), 300, replace=False)
    values = [render_sketchpad(digits[i], *grid[k % len(grid)], seed=int(i)) for k, i in enumerate(picks)]
    labels = [p.label for p in rec.predict_batch(values)]
    accuracy = np.mean([label == digits[i].label for label, i in zip(labels, picks)])
    assert accuracy >= PEN_FLOOR, accuracy


def test_mnist_test_digits_through_predict_match_the_checkpoint_accuracy(rec, mnist):
    x, y = mnist.test_x.numpy(), mnist.test_y.numpy()
    labels = np.array([p.label for p in rec.predict_batch(list(x))])
    accuracy = np.mean(labels == y)
    assert abs(accuracy - rec.info["test_accuracy"]) <= 0.003, (accuracy, rec.info["test_accuracy"])


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
def test_inputs_without_a_drawing_read_as_nothing_drawn(rec, name):
    p = rec.predict(BLANK[name])
    assert p.label is None and not p.probabilities.any() and not p.image28.any()


@pytest.mark.parametrize("name", REFUSED)
def test_inputs_that_are_not_images_raise_image_error_with_a_message(rec, name):
    with pytest.raises(ImageError) as error:
        rec.predict(REFUSED[name])
    assert len(str(error.value)) > 10


def test_one_dot_is_read_as_a_small_centred_blob(rec):
    p = rec.predict({"background": white, "layers": [one_dot()], "composite": None})
    assert p.label is not None and p.probabilities.sum() == pytest.approx(1, abs=1e-5)
    rows, cols = np.nonzero(p.image28)
    assert np.ptp(rows) <= 4 and np.ptp(cols) <= 4 and abs(rows.mean() - 14) <= 1 and abs(cols.mean() - 14) <= 1


def test_noise_and_a_huge_image_get_an_answer(rec):
    assert rec.predict(noise((CANVAS, CANVAS, 3))).label is not None
    huge = np.full((10_000, 10_000), 255, np.uint8)          # 100 MB of paper with one stroke on it
    huge[3000:7000, 4900:5100] = 0
    p = rec.predict(huge)
    assert p.label == 1, p.probabilities


def test_unreadable_files_raise_image_error(rec, tmp_path):
    good = png_bytes(noise((64, 64, 3)))
    (tmp_path / "truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.png").write_text("this is not a picture")
    (tmp_path / "empty.png").write_bytes(b"")
    for name in ("truncated.png", "text.png", "empty.png"):
        with pytest.raises(ImageError, match="cannot read"):
            rec.predict(str(tmp_path / name))
    lazy = Image.open(tmp_path / "truncated.png")           # PIL decodes only when asked, inside to_mnist
    with pytest.raises(ImageError, match="cannot decode"):
        rec.predict(lazy)
    with pytest.raises(ImageError):                          # a damaged layer inside a Sketchpad value
        rec.predict({"background": None, "layers": [str(tmp_path / "truncated.png")], "composite": None})


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


def test_recognizer_answers_normally_after_every_bad_input(rec, pen_digits_path, tmp_path):
    value = render_sketchpad(load_pen_digits(pen_digits_path)[0], canvas=CANVAS)
    before = rec.predict(value).probabilities
    for bad in [*BLANK.values(), *REFUSED.values()]:
        try:
            rec.predict(bad)
        except ImageError:
            pass
    np.testing.assert_array_equal(rec.predict(value).probabilities, before)


# ---- properties: to_mnist returns a valid 28 x 28 or raises ImageError, for anything array-like ----
