"""Personal models through the running app's HTTP API, with two real gradio_client sessions: the one
that corrects a misread digit gets its own model on its next /predict, the other keeps the shipped
model's answer; /forget goes back to it; with room for one model only, each session's model is
evicted by the other's and rebuilt the same; corrections over the per-minute limit teach nothing; a
server killed while it adapts loses no correction."""
from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client

from mnist_model import DigitRecognizer
from harness.app_driver import serve_app, serve_app_process, sketch_files
from train.feedback import read_feedback
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS

PER_MINUTE = 6


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory):
    # PERSONAL_MAX_MB=1: room for one adapted model (0.84 MB), so that two sessions evict each other's.
    env = {"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(tmp_path_factory.mktemp("runs")), "ALLOW_TRAINING": "0",
           "FEEDBACK_DIR": str(tmp_path_factory.mktemp("feedback")), "FEEDBACK_PER_MINUTE": str(PER_MINUTE),
           "PERSONAL_MAX_MB": "1"}
    with serve_app(env) as url:
        yield url


@pytest.fixture(scope="module")
def misread(pen_digits_path, tmp_path_factory):
    """Three pen digits drawn on the app's canvas that the shipped model misreads, as uploaded sketch
    files, with their true labels and the shipped model's answers."""
    folder, shipped = tmp_path_factory.mktemp("sketches"), DigitRecognizer.load()
    out = []
    for i, digit in enumerate(load_pen_digits(pen_digits_path)):
        value = render_sketchpad(digit, canvas=CANVAS, height=0.5, brush=10, seed=i)
        answer = shipped.predict(value).label
        if answer != digit.label:
            out.append((sketch_files(value, folder), digit.label, answer))
            if len(out) == 3:
                return out
    pytest.fail("the shipped model should misread a few dev digits")


def read(client: Client, files) -> tuple[int, dict, list[float]]:
    """The answer /predict gives, who read it, and the ten probabilities."""
    probabilities, _, _, _, _, reader = client.predict(files, api_name="/predict")
    confidences = sorted(probabilities["confidences"], key=lambda c: int(c["label"]))
    return int(probabilities["label"]), reader, [c["confidence"] for c in confidences]


def test_only_the_visitor_who_corrects_gets_their_own_model(app, misread):
    files, label, answer = misread[0]
    mine, theirs = Client(app, verbose=False), Client(app, verbose=False)
    for c in (mine, theirs):
        said, reader, _ = read(c, files)
        assert said == answer and reader["reader"] == "shown" and reader["learned_from"] == 0
    message, _ = mine.predict(files, label, api_name="/feedback")
    assert f"Saved as {label}" in message and "learned from 1" in message
    said, reader, _ = read(mine, files)
    assert said == label and reader == {"reader": "personal", "model": "default", "learned_from": 1,
                                        "label": label, "shown_label": answer}
    said, reader, _ = read(theirs, files)
    assert said == answer and reader["reader"] == "shown"

    message = mine.predict(api_name="/forget")
    assert "Forgotten" in message
    said, reader, _ = read(mine, files)
    assert said == answer and reader["reader"] == "shown" and reader["learned_from"] == 0


def test_an_evicted_model_is_rebuilt_from_the_visitors_digits(app, misread):
    (files_a, label_a, _), (files_b, label_b, _) = misread[1], misread[2]
    a, b = Client(app, verbose=False), Client(app, verbose=False)
    a.predict(files_a, label_a, api_name="/feedback")
    first = read(a, files_a)
    b.predict(files_b, label_b, api_name="/feedback")
    assert read(b, files_b)[0] == label_b                 # b's model took the only room: a's was evicted
    again = read(a, files_a)                              # rebuilt from a's digits, as it was
    assert again[:2] == first[:2] and again[1]["reader"] == "personal"
    np.testing.assert_allclose(again[2], first[2], atol=1e-6)


def test_corrections_over_the_limit_teach_nothing(app, misread):
    files, label, _ = misread[0]
    c = Client(app, verbose=False)
    for n in range(1, PER_MINUTE + 1):
        message, _ = c.predict(files, label, api_name="/feedback")
        assert f"learned from {n}" in message
    with pytest.raises(Exception, match=f"{PER_MINUTE} drawings in a minute"):
        c.predict(files, label, api_name="/feedback")
    assert read(c, files)[1]["learned_from"] == PER_MINUTE


def test_a_kill_mid_adaptation_loses_no_correction(mnist_root, misread, tmp_path):
    files, label, _ = misread[0]
    folder = tmp_path / "feedback"
    env = {"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(tmp_path / "runs"), "ALLOW_TRAINING": "0",
           "FEEDBACK_DIR": str(folder)}
    with serve_app_process(env) as (url, server):
        Client(url, verbose=False).predict(files, label, api_name="/feedback")   # stored; the adaptation starts
        server.kill()
        server.wait()
    assert [item.label for item in read_feedback(folder)] == [label]
    with serve_app(env) as url:                   # the same store, served again: whole, and still writable
        message, _ = Client(url, verbose=False).predict(files, label, api_name="/feedback")
        assert "learned from 1" in message
    assert [item.label for item in read_feedback(folder)] == [label, label]


def test_a_server_without_personal_models_keeps_corrections_only(mnist_root, misread, tmp_path):
    files, label, answer = misread[0]
    env = {"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(tmp_path / "runs"), "ALLOW_TRAINING": "0",
           "FEEDBACK_DIR": str(tmp_path / "feedback"), "PERSONAL_MAX_DIGITS": "0"}
    with serve_app(env) as url:
        c = Client(url, verbose=False)
        message, _ = c.predict(files, label, api_name="/feedback")
        assert f"Saved as {label}" in message and "learned" not in message
        said, reader, _ = read(c, files)
        assert said == answer and reader["reader"] == "shown" and reader["learned_from"] == 0
