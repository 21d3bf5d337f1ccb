"""Bad input through the running app's HTTP API (gradio_client), as any visitor or script can send it:
each gets an answer or a readable message (never Gradio's hidden-error text), and a real drawing is
read correctly right after every one, so the server kept serving."""
from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from train.pen_digits import load_pen_digits, render_sketchpad
from mnist_model import DigitRecognizer
from scripts.app_driver import serve_app, sketch_files

HIDDEN = "has not enabled verbose error reporting"    # what a visitor sees for an unhandled exception
CANVAS = 448


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    with serve_app({"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(runs), "TRAIN_MAX_STEPS": "2000"}) as url:
        yield Client(url, verbose=False)


@pytest.fixture(scope="module")
def reference(pen_digits_path, tmp_path_factory):
    """A pen digit as uploaded files, and the in-process recognizer's probabilities for it."""
    value = render_sketchpad(load_pen_digits(pen_digits_path)[0], canvas=CANVAS)
    return sketch_files(value, tmp_path_factory.mktemp("ref")), DigitRecognizer.load().predict(value).probabilities


def still_serving(client: Client, reference) -> None:
    files, expected = reference
    label, *_ = client.predict(files, api_name="/predict")
    got = {int(row["label"]): row["confidence"] for row in label["confidences"]}
    np.testing.assert_allclose([got[d] for d in range(10)], expected, atol=1e-5)


def composite(path) -> dict:
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


def arrays(folder, **parts) -> dict:
    """A sketch value from numpy arrays, uploaded as PNG files."""
    return sketch_files({"background": parts.get("background"), "layers": parts.get("layers", []),
                         "composite": parts.get("composite")}, folder)


def test_drawings_without_a_digit_ask_for_one(app, reference, tmp_path):
    white, clear = np.full((CANVAS, CANVAS, 3), 255, np.uint8), np.zeros((CANVAS, CANVAS, 4), np.uint8)
    cases = {"nothing": {"background": None, "layers": [], "composite": None},
             "transparent layers": arrays(tmp_path, layers=[clear, clear], composite=clear),
             "black canvas": arrays(tmp_path, background=np.zeros_like(white), composite=np.zeros_like(white)),
             "1x1": arrays(tmp_path, composite=np.zeros((1, 1, 3), np.uint8))}
    for name, value in cases.items():
        label, big_digit, seen, hint = app.predict(value, api_name="/predict")
        assert not (label or {}).get("label") and "draw a digit" in big_digit and "empty" in hint, name
        still_serving(app, reference)


def test_a_dot_and_noise_get_a_prediction(app, reference, tmp_path):
    dot = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    dot[200:230, 240:270] = (0, 0, 0, 255)
    noise = np.random.default_rng(0).integers(0, 256, (CANVAS, CANVAS, 3), dtype=np.uint8)
    for value in (arrays(tmp_path, background=np.full((CANVAS, CANVAS, 3), 255, np.uint8), layers=[dot]),
                  arrays(tmp_path, composite=noise)):
        label, big_digit, seen, hint = app.predict(value, api_name="/predict")
        assert label["label"] in list("0123456789") and seen is not None
        still_serving(app, reference)


def test_unreadable_uploads_are_refused_with_a_clear_message(app, reference, tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    data = good.read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "notes.png").write_text("not a picture at all")
    (tmp_path / "script.py").write_text("import os; os.system('echo hacked')")
    (tmp_path / "empty.png").write_bytes(b"")
    Image.fromarray(np.full((10_000, 10_000), 255, np.uint8)).save(tmp_path / "huge.png")   # ~120 kB on the wire
    expected = {"truncated.png": "could not be read", "notes.png": "could not be read",
                "script.py": "could not be read", "empty.png": "could not be read", "huge.png": "10000 x 10000"}
    for name, message in expected.items():
        for value in (composite(tmp_path / name),
                      {"background": None, "layers": [handle_file(str(tmp_path / name))], "composite": None}):
            with pytest.raises(Exception) as error:
                app.predict(value, api_name="/predict")
            assert message in str(error.value) and HIDDEN not in str(error.value), (name, error.value)
            assert str(tmp_path) not in str(error.value)                 # no server paths in messages
        still_serving(app, reference)


def test_an_upload_over_the_size_cap_is_refused(app, reference, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(np.random.default_rng(2).bytes(11 * 1024 * 1024))   # over app.MAX_UPLOAD (10 MB)
    with pytest.raises(Exception, match="(?i)size"):
        app.predict(composite(big), api_name="/predict")
    still_serving(app, reference)


OUT_OF_BOUNDS = "greater than maximum|less than minimum"    # the inputs' own bounds, from TrainConfig.LIMITS


@pytest.mark.parametrize("epochs, batch_size, lr, message", [
    (1000, 128, 2e-3, OUT_OF_BOUNDS),
    (2, 0, 2e-3, OUT_OF_BOUNDS),
    (2, 128, 50.0, OUT_OF_BOUNDS),
    (2.5, 128, 2e-3, "epochs must be a whole number"),     # within the slider's bounds: TrainConfig refuses it
    (10, 16, 2e-3, "2,000 per run"),             # within every bound, but 34,380 steps: over TRAIN_MAX_STEPS
])
def test_training_over_the_servers_limits_is_refused_before_any_work(app, reference, epochs, batch_size, lr,
                                                                      message):
    with pytest.raises(Exception, match=message):
        app.predict(epochs, batch_size, lr, 0.3, 1, False, 0, api_name="/train")
    assert "no training run" in app.predict(api_name="/stop")        # nothing was started
    still_serving(app, reference)
