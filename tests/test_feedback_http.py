"""Corrections through the running app's HTTP API (gradio_client), as a visitor's browser or a script
sends them: /feedback stores the drawing with the visitor's label and the app's own answer, refuses
labels outside 0-9, blank drawings, a session over its rate and a full store with a message, and
/train with the corrected drawings records them in the checkpoint."""
from __future__ import annotations

import json

import numpy as np
import pytest
from gradio_client import Client

from harness.app_driver import serve_app, sketch_files
from mnist_model import DigitRecognizer, read_metadata
from train.feedback import read_feedback
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS
from webapp.training.form import API_OUTPUTS, train_args

PER_MINUTE, MAX_ITEMS = 4, 7


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory):
    folder, runs = tmp_path_factory.mktemp("feedback"), tmp_path_factory.mktemp("runs")
    env = {"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(runs), "FEEDBACK_DIR": str(folder),
           "FEEDBACK_PER_MINUTE": str(PER_MINUTE), "FEEDBACK_MAX_ITEMS": str(MAX_ITEMS)}
    with serve_app(env) as url:
        yield url, folder, runs


@pytest.fixture(scope="module")
def drawings(pen_digits_path, tmp_path_factory):
    """Eight pen digits as uploaded sketch files, with their true labels and the shipped model's answers."""
    folder, reference = tmp_path_factory.mktemp("sketches"), DigitRecognizer.load()
    out = []
    for i, digit in enumerate(load_pen_digits(pen_digits_path)[:8]):
        value = render_sketchpad(digit, canvas=CANVAS, seed=i)
        out.append((sketch_files(value, folder), digit.label, reference.predict(value).label))
    return out


def lines(folder) -> list[dict]:
    path = folder / "metadata.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_correction_is_stored_with_the_label_given_and_the_apps_answer(app, drawings):
    url, folder, _ = app
    c = Client(url, verbose=False)
    for files, label, answer in drawings[:2]:
        message, choice = c.predict(files, (label + 3) % 10, api_name="/feedback")   # as if the app were wrong
        assert f"Saved as {(label + 3) % 10}" in message and choice is None
    stored = lines(folder)
    assert [r["label"] for r in stored] == [(label + 3) % 10 for _, label, _ in drawings[:2]]
    assert [r["predicted"] for r in stored] == [answer for _, _, answer in drawings[:2]]
    assert [i.label for i in read_feedback(folder)] == [r["label"] for r in stored]


def test_bad_labels_and_blank_drawings_are_refused_and_nothing_is_stored(app, drawings, tmp_path):
    url, folder, _ = app
    c, before = Client(url, verbose=False), lines(folder)
    for label in (10, -1, "7"):
        with pytest.raises(Exception, match="not in the list of choices"):
            c.predict(drawings[0][0], label, api_name="/feedback")
    with pytest.raises(Exception, match="0 to 9"):
        c.predict(drawings[0][0], None, api_name="/feedback")
    white = np.full((CANVAS, CANVAS, 4), 255, np.uint8)
    blank = sketch_files({"background": white, "layers": [np.zeros_like(white)], "composite": white}, tmp_path)
    with pytest.raises(Exception, match="canvas is empty"):
        c.predict(blank, 3, api_name="/feedback")
    assert lines(folder) == before


def test_a_session_over_its_rate_is_refused_and_others_are_not(app, drawings):
    url, folder, _ = app
    busy, before = Client(url, verbose=False), len(lines(folder))
    for files, label, _ in drawings[:PER_MINUTE]:
        busy.predict(files, label, api_name="/feedback")
    with pytest.raises(Exception, match=f"{PER_MINUTE} drawings in a minute"):
        busy.predict(drawings[0][0], 1, api_name="/feedback")
    assert len(lines(folder)) == before + PER_MINUTE
    Client(url, verbose=False).predict(drawings[5][0], drawings[5][1], api_name="/feedback")   # another visitor


def test_a_full_store_refuses_with_a_message(app, drawings):
    url, folder, _ = app
    assert len(lines(folder)) == MAX_ITEMS            # 2 + PER_MINUTE + 1 from the tests above
    with pytest.raises(Exception, match="full"):
        Client(url, verbose=False).predict(drawings[6][0], 2, api_name="/feedback")
    assert len(lines(folder)) == MAX_ITEMS


def test_training_with_the_corrected_drawings_records_them(app):
    url, folder, runs = app
    config = dict(epochs=1, batch_size=1024, lr=2e-3, lr_factor=0.3, lr_patience=1, augment=False, seed=0)
    outputs = Client(url, verbose=False).predict(*train_args(config, feedback=True), api_name="/train")
    result = outputs[API_OUTPUTS.index("result")]
    assert "Test accuracy" in result
    saved = list(runs.glob("*.safetensors"))
    assert len(saved) == 1 and read_metadata(saved[0])["data"]["feedback"]["items"] == MAX_ITEMS
