"""The running app through its HTTP API (gradio_client), as a script or a Space visitor would call it:
predictions equal the in-process recognizer's, a run streams growing plots, the drawing's readings
and the first layer's weights, and ends with the confusion matrix and the misread digits, Stop and
a cancelled call end a run, a second visitor is refused while a run trains, and a training process
that dies ends its call with a message and frees the slot. Bad input gets an answer or a readable
message (never Gradio's hidden-error text), and a real drawing is read correctly right after every
one, so the server kept serving."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from harness.app_driver import run_rows, serve_app, sketch_files, still_serving
from mnist_model import DigitRecognizer
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS
from webapp.training.form import API_OUTPUTS, train_args

SHORT = dict(epochs=2, batch_size=1024, lr=2e-3, lr_factor=0.3, lr_patience=1, augment=False, seed=0)
LONG = dict(SHORT, epochs=50, batch_size=64, augment=True)   # many minutes: only ever stopped
RESULT = API_OUTPUTS.index("result")


def named(outputs: list, *names: str) -> list:
    """The /train outputs of these names, from one update."""
    return [outputs[API_OUTPUTS.index(name)] for name in names]


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    with serve_app({"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(runs)}) as url:
        yield url, runs


def client(app) -> Client:
    return Client(app[0], verbose=False)


def test_predict_matches_the_recognizer_on_pen_digits(app, pen_digits_path, tmp_path):
    digits = load_pen_digits(pen_digits_path)[:12]
    reference = DigitRecognizer.load()
    c = client(app)
    correct = 0
    for i, digit in enumerate(digits):
        value = render_sketchpad(digit, canvas=448, seed=i)
        label, big_digit, seen, hint, *_ = c.predict(sketch_files(value, tmp_path), api_name="/predict")
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
    label, big_digit, seen, hint, *_ = client(app).predict(sketch_files(value, tmp_path), api_name="/predict")
    assert label is None or label.get("label") is None
    assert "draw a digit" in big_digit and seen is None and "empty" in hint


def test_train_streams_growing_plots_and_saves_a_usable_model(app, tmp_path):
    url, runs = app
    started = time.monotonic()
    updates = list(client(app).submit(*train_args(SHORT), api_name="/train"))
    status, progress, train_loss, valid_loss, lr, result, *_ = updates[-1]
    assert len(updates) >= 3, updates
    sizes = [len(run_rows(u[2])) for u in updates]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1] and len(set(sizes)) >= 2
    assert len(run_rows(train_loss)) >= 2 * 10                      # several points per epoch
    assert [row[0] for row in run_rows(lr)] == [0, 1, 2]             # the initial lr, then one per epoch
    assert [row[0] for row in run_rows(valid_loss)] == [1, 2]        # one valid loss per epoch
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
    outputs = job.result(timeout=60)
    assert time.monotonic() - pressed < 30
    status, result, weights, confusion, misread, details = named(outputs, "status", "result", "weights", "confusion",
                                                                  "misread", "details")
    assert status.startswith("stopped") and "Stopped early" in result
    assert sum(map(sum, details["confusion"])) == 10_000 and len(misread) == len(details["misread"]) == 24
    assert confusion is not None and Image.open(weights).size == (20 * 29 + 1, 10 * 29 + 1)


def test_train_follows_the_drawing_and_shows_what_the_network_learned(app, pen_digits_path, tmp_path):
    digit = load_pen_digits(pen_digits_path)[0]
    value = sketch_files(render_sketchpad(digit, canvas=CANVAS), tmp_path)
    updates = list(client(app).submit(*train_args(dict(SHORT, epochs=3), sketch=value), api_name="/train"))
    bars, line, weights, confusion, misread, details = named(updates[-1], "probe", "readings", "weights", "confusion",
                                                             "misread", "details")
    # The drawing, read after each epoch: ten probabilities per epoch, the last shown as bars.
    assert [r["epoch"] for r in details["probe"]] == [1, 2, 3]
    assert all(len(r["probabilities"]) == 10 and abs(sum(r["probabilities"]) - 1) < 1e-4 for r in details["probe"])
    assert [row[1] for row in bars["data"]] == pytest.approx(details["probe"][-1]["probabilities"], abs=1e-6)
    assert line.count("**") == 2 * 3
    # The weight grid came with every epoch; it changes as the network learns.
    grids = {named(u, "weights")[0] for u in updates} - {None}
    assert len(grids) >= 3 and Image.open(weights).size == (20 * 29 + 1, 10 * 29 + 1)
    # At the end: the confusion matrix and the misread gallery, agreeing with the plain data.
    confusion_counts = np.array(details["confusion"])
    assert confusion_counts.sum() == 10_000 and confusion is not None
    accuracy = float(updates[-1][RESULT].split("Test accuracy ")[1].split("%")[0]) / 100
    assert np.trace(confusion_counts) / 10_000 == pytest.approx(accuracy, abs=1e-4)
    assert [m["caption"] for m in misread] == [
        f"{'an' if m['label'] == 8 else 'a'} {m['label']}, read as {m['predicted']} ({m['confidence']:.0%})"
        for m in details["misread"]]
    assert all(m["label"] != m["predicted"] for m in details["misread"])
    # A run without a drawing says how to get one.
    updates = list(client(app).submit(*train_args(dict(SHORT, epochs=1)), api_name="/train"))
    details, line = named(updates[-1], "details", "readings")
    assert details["probe"] == [] and "Draw a digit" in line


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
            result = second.predict(*train_args(dict(SHORT, epochs=1)), api_name="/train")[RESULT]
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
    result = c.predict(*train_args(dict(SHORT, epochs=1)), api_name="/train")[RESULT]
    assert "Test accuracy" in result and len(training_processes()) == 1 and pid not in training_processes()


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


HIDDEN = "has not enabled verbose error reporting"    # what a visitor sees for an unhandled exception


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
        label, big_digit, seen, hint, *_ = client(app).predict(value, api_name="/predict")
        assert not (label or {}).get("label") and "draw a digit" in big_digit and "empty" in hint, name
        still_serving(client(app), reference)


def test_a_dot_and_noise_get_a_prediction(app, reference, tmp_path):
    dot = np.zeros((CANVAS, CANVAS, 4), np.uint8)
    dot[200:230, 240:270] = (0, 0, 0, 255)
    noise = np.random.default_rng(0).integers(0, 256, (CANVAS, CANVAS, 3), dtype=np.uint8)
    for value in (arrays(tmp_path, background=np.full((CANVAS, CANVAS, 3), 255, np.uint8), layers=[dot]),
                  arrays(tmp_path, composite=noise)):
        label, big_digit, seen, hint, *_ = client(app).predict(value, api_name="/predict")
        assert label["label"] in list("0123456789") and seen is not None
        still_serving(client(app), reference)


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
                client(app).predict(value, api_name="/predict")
            assert message in str(error.value) and HIDDEN not in str(error.value), (name, error.value)
            assert str(tmp_path) not in str(error.value)                 # no server paths in messages
        still_serving(client(app), reference)


def test_an_upload_over_the_size_cap_is_refused(app, reference, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(np.random.default_rng(2).bytes(11 * 1024 * 1024))   # over webapp.guards.limits.MAX_UPLOAD (10 MB)
    with pytest.raises(Exception, match="(?i)size"):
        client(app).predict(composite(big), api_name="/predict")
    still_serving(client(app), reference)


@pytest.mark.parametrize("epochs, batch_size, lr, message", [
    (1000, 128, 2e-3, "epochs must be between 1 and 100, got 1,000"),     # TrainConfig.LIMITS, as the inputs'
    (2, 0, 2e-3, "batch_size must be between 1 and 8,192, got 0"),
    (2, 128, 50.0, "lr must be between 1e-06 and 1, got 50"),
    (2.5, 128, 2e-3, "epochs must be a whole number"),
    (100, 1, 2e-3, "50,000 per run"),            # within every bound, but millions of steps: over TRAIN_MAX_STEPS
])
def test_training_over_the_servers_limits_is_refused_before_any_work(app, reference, epochs, batch_size, lr,
                                                                      message):
    with pytest.raises(Exception, match=message):
        client(app).predict(epochs, batch_size, lr, 0.3, 1, False, 0, api_name="/train")
    assert "no training run" in client(app).predict(api_name="/stop")        # nothing was started
    still_serving(client(app), reference)


MALFORMED = ["many", [1, 2], None, {"a": 1}, True, "1e999"]


@pytest.mark.parametrize("name, rule", [("epochs", "whole number"), ("batch_size", "whole number"),
                                        ("lr", "finite number"), ("lr_factor", "finite number"),
                                        ("lr_patience", "whole number"), ("seed", "whole number")])
def test_a_malformed_setting_is_named_in_the_callers_language(app, reference, name, rule):
    for bad in MALFORMED:
        with pytest.raises(Exception, match=f"{name} must be a {rule}, got "):
            client(app).predict(*train_args({**SHORT, name: bad}), api_name="/train")
    ru = Client(app[0], verbose=False, headers={"Accept-Language": "ru-RU"})
    with pytest.raises(Exception, match=rf"\({name}\): нужно (целое|конечное) число, получено 'many'"):
        ru.predict(*train_args({**SHORT, name: "many"}), api_name="/train")
    assert "no training run" in client(app).predict(api_name="/stop")        # nothing was started
    still_serving(client(app), reference)


def test_nan_and_a_long_value_over_rest_get_a_short_named_refusal(app):
    # JSON has no NaN, but Python's parser reads one: a raw REST caller can send it.
    url, _ = app
    values = [json.dumps(v) for v in train_args(SHORT)]
    for index, bad, said in [(0, "NaN", "epochs must be a whole number, got nan"),
                             (1, '"' + "9" * 500_000 + 'x"', "batch_size must be a whole number, got '999")]:
        data = "[" + ", ".join(values[:index] + [bad] + values[index + 1:]) + "]"
        posted = httpx.post(url + "gradio_api/call/train", content='{"data": ' + data + "}",
                            headers={"content-type": "application/json"}, timeout=30)
        with httpx.stream("GET", url + f"gradio_api/call/train/{posted.json()['event_id']}", timeout=60) as events:
            answer = events.read().decode()
        assert "event: error" in answer and said in answer and len(answer) < 1000, answer[:300]
