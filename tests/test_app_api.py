"""The running app through its HTTP API (gradio_client), as a script or a Space visitor would call it:
predictions equal the in-process recognizer's, a run streams growing plots and saves a model,
Stop and a cancelled call end a run, a second visitor is refused while a run trains, and a training
process that dies ends its call with a message and frees the slot."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client

from train.pen_digits import load_pen_digits, render_sketchpad
from mnist_model import DigitRecognizer
from scripts.app_driver import serve_app, sketch_files

SHORT = dict(epochs=2, batch_size=1024, lr=2e-3, lr_factor=0.3, lr_patience=1, augment=False, seed=0)
LONG = dict(SHORT, epochs=50, batch_size=64, augment=True)   # many minutes: only ever stopped


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    with serve_app({"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(runs)}) as url:
        yield url, runs


def client(app) -> Client:
    return Client(app[0], verbose=False)


def train_args(config: dict) -> list:
    return [config[k] for k in ("epochs", "batch_size", "lr", "lr_factor", "lr_patience", "augment", "seed")]


def test_predict_matches_the_recognizer_on_pen_digits(app, pen_digits_path, tmp_path):
    digits = load_pen_digits(pen_digits_path)[:12]
    reference = DigitRecognizer.load()
    c = client(app)
    correct = 0
    for i, digit in enumerate(digits):
        value = render_sketchpad(digit, canvas=448, seed=i)
        label, big_digit, seen, hint = c.predict(sketch_files(value, tmp_path), api_name="/predict")
        expected = reference.predict(value)
        got = {int(row["label"]): row["confidence"] for row in label["confidences"]}
        np.testing.assert_allclose([got[d] for d in range(10)], expected.probabilities, atol=1e-5)
        assert int(label["label"]) == expected.label
        assert f">{expected.label}<" in big_digit
        assert seen is not None
        correct += expected.label == digit.label
    assert correct >= 10, f"only {correct} of {len(digits)} pen digits read correctly"


def test_predict_empty_canvas_asks_for_a_digit(app, tmp_path):
    blank = np.full((448, 448, 4), 255, np.uint8)
    value = {"background": blank, "layers": [np.zeros_like(blank)], "composite": blank}
    label, big_digit, seen, hint = client(app).predict(sketch_files(value, tmp_path), api_name="/predict")
    assert label is None or label.get("label") is None
    assert "draw a digit" in big_digit and seen is None and "empty" in hint


def test_train_streams_growing_plots_and_saves_a_usable_model(app, tmp_path):
    url, runs = app
    started = time.monotonic()
    updates = list(client(app).submit(*train_args(SHORT), api_name="/train"))
    status, progress, train_loss, valid_loss, lr, result = updates[-1]
    assert len(updates) >= 3, updates
    sizes = [len(u[2]["data"]) for u in updates]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] and len(set(sizes)) >= 2
    assert len(train_loss["data"]) >= 2 * 10                        # several points per epoch
    assert [row[0] for row in lr["data"]] == [0, 1, 2]               # the initial lr, then one per epoch
    assert [row[0] for row in valid_loss["data"]] == [1, 2]          # one valid loss per epoch
    assert status.startswith("finished") and 'value="1.0000"' in progress
    assert "Test accuracy" in result and time.monotonic() - started < 120
    saved = list(runs.glob("*.safetensors"))
    assert len(saved) == 1 and saved[0].name in result
    assert DigitRecognizer.load(saved[0]).info["test_accuracy"] > 0.9


def test_stop_ends_the_run_and_keeps_the_best_weights(app):
    c = client(app)
    job = c.submit(*train_args(LONG), api_name="/train")
    while len(job.outputs()) < 3:               # the run has started stepping
        time.sleep(0.2)
    pressed = time.monotonic()
    assert "Stopping" in c.predict(api_name="/stop")    # same client, same session: its own run
    status, *_, result = job.result(timeout=60)
    assert time.monotonic() - pressed < 30
    assert status.startswith("stopped") and "Stopped early" in result


def test_second_visitor_is_refused_and_a_cancelled_run_frees_the_slot(app):
    first, second = client(app), client(app)
    job = first.submit(*train_args(LONG), api_name="/train")
    while len(job.outputs()) < 2:
        time.sleep(0.2)
    with pytest.raises(Exception, match="in progress"):
        second.predict(*train_args(SHORT), api_name="/train")
    assert "no training run" in second.predict(api_name="/stop")   # nor stop someone else's run
    assert not job.done()
    job.cancel()                                             # a closed tab or a client that gives up
    deadline = time.monotonic() + 60
    while True:                                              # the slot frees once the run has saved
        try:
            *_, result = second.predict(*train_args(dict(SHORT, epochs=1)), api_name="/train")
            break
        except Exception as e:
            assert "in progress" in str(e) and time.monotonic() < deadline
            time.sleep(0.5)
    assert "Test accuracy" in result


def training_processes() -> list[int]:
    """PIDs of the training processes of the app servers this test process started (from Linux's /proc)."""
    procs = {}                                      # pid: (parent pid, command line)
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit():
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                procs[int(entry.name)] = ppid, (entry / "cmdline").read_bytes()
        except OSError:                             # a process that ended while being read
            pass
    servers = {pid for pid, (ppid, _) in procs.items() if ppid == os.getpid()}
    return [pid for pid, (ppid, cmd) in procs.items() if ppid in servers and b"spawn_main" in cmd]


def test_a_killed_training_process_ends_the_call_with_a_message_and_frees_the_slot(app):
    c = client(app)
    job = c.submit(*train_args(LONG), api_name="/train")
    while len(job.outputs()) < 3:               # the run has started stepping
        time.sleep(0.2)
    [pid] = training_processes()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(Exception, match="training process ended unexpectedly .killed by SIGKILL."):
        job.result(timeout=60)
    *_, result = c.predict(*train_args(dict(SHORT, epochs=1)), api_name="/train")
    assert "Test accuracy" in result and not training_processes()


def test_predictions_stay_fast_while_a_run_trains(app, pen_digits_path, tmp_path):
    value = sketch_files(render_sketchpad(load_pen_digits(pen_digits_path)[0], canvas=448), tmp_path)
    c = client(app)
    job = c.submit(*train_args(LONG), api_name="/train")
    while len(job.outputs()) < 2:
        time.sleep(0.2)
    latencies = []
    for _ in range(5):
        t = time.monotonic()
        c.predict(value, api_name="/predict")
        latencies.append(time.monotonic() - t)
    c.predict(api_name="/stop")
    job.result(timeout=60)
    assert sorted(latencies)[2] < 2.0, latencies


def test_read_only_server_predicts_but_refuses_training(mnist_root, pen_digits_path, tmp_path):
    value = sketch_files(render_sketchpad(load_pen_digits(pen_digits_path)[0], canvas=448), tmp_path)
    with serve_app({"ALLOW_TRAINING": "0", "MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(tmp_path / "runs")}) as url:
        c = Client(url, verbose=False)
        assert c.predict(value, api_name="/predict")[0]["label"] is not None
        with pytest.raises(Exception, match="switched off"):
            c.predict(*train_args(SHORT), api_name="/train")
    assert not (tmp_path / "runs").exists()
