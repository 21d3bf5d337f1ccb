"""Training faults in the app's driver (app_train.run_training), in process so that threads can be
counted: Stop at every phase, Train twice, two sessions at once, a closed tab. After each: no thread
left running, the slot free, every file in the runs folder a loadable model, and the next run works."""
from __future__ import annotations

import gc
import threading
import time
from dataclasses import replace

import pytest

import app_train
from app_train import RunInProgress, TrainingSlot, run_training
from mnist_model import MLP, DigitRecognizer
from train import TrainConfig

QUICK = TrainConfig(epochs=3, batch_size=250, augment=False, styles=0.0)   # 8 steps an epoch on the small split


@pytest.fixture(scope="module")
def small(mnist):
    """2,000 training digits, 1,000 each to validate and test: a run takes well under a second."""
    return replace(mnist, train_x=mnist.train_x[:2000], train_y=mnist.train_y[:2000], valid_x=mnist.valid_x[:1000],
                   valid_y=mnist.valid_y[:1000], test_x=mnist.test_x[:1000], test_y=mnist.test_y[:1000])


@pytest.fixture
def runs(tmp_path, monkeypatch, small):
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(app_train, "load_mnist", lambda **_: small)
    monkeypatch.setattr(app_train, "UPDATE_SECONDS", 0.0)     # a snapshot per step: stops land mid-epoch
    before = set(threading.enumerate())
    yield tmp_path / "runs"
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(threading.enumerate()) - before, "threads left running after the run"
    leftovers = list((tmp_path / "runs").glob(".*")) if (tmp_path / "runs").exists() else []
    assert not leftovers, f"temporary files left behind: {leftovers}"
    for path in (tmp_path / "runs").glob("*.safetensors"):
        DigitRecognizer.load(path)                            # every file there is a usable model


def finish(slot: TrainingSlot, owner: str = "next"):
    """The next visitor's run, to the end: the slot is free and training works."""
    assert slot.owner is None
    last = list(run_training(slot, replace(QUICK, epochs=1), owner))[-1]
    assert last.done.checkpoint is not None and last.done.test_acc > 0.3 and slot.owner is None
    return last


def test_stop_while_mnist_loads_saves_nothing(runs, small, monkeypatch):
    slot = TrainingSlot()

    def loading(**_):                                          # the visitor presses Stop during the read
        assert slot.request_stop("alice")
        return small

    monkeypatch.setattr(app_train, "load_mnist", loading)
    snaps = list(run_training(slot, QUICK, "alice"))
    assert snaps[-1].done.checkpoint is None and "nothing saved" in snaps[-1].done.message
    assert not list(runs.glob("*.safetensors")) if runs.exists() else True
    monkeypatch.setattr(app_train, "load_mnist", lambda **_: small)
    finish(slot)


def test_stop_mid_epoch_keeps_the_best_weights(runs):
    slot = TrainingSlot()
    steps = []
    for snap in run_training(slot, QUICK, "alice"):
        steps.append(snap.step)
        if snap.step == 12:                                    # half-way through epoch 2
            assert slot.request_stop("alice")
    assert max(steps) == 12 and snap.done.stopped and snap.done.checkpoint is not None
    assert len(DigitRecognizer.load(snap.done.checkpoint).info["history"]) == 1
    finish(slot)


def test_stop_during_validation_ends_after_that_epoch(runs, monkeypatch):
    slot = TrainingSlot()

    class StopWhileValidating(MLP):
        def forward(self, x):
            if not self.training:                              # evaluate() runs the model in eval mode
                slot.request_stop("alice")
            return super().forward(x)

    monkeypatch.setattr("train.engine.MLP", StopWhileValidating)
    last = list(run_training(slot, QUICK, "alice"))[-1]
    assert last.done.stopped and last.step == 8
    assert len(DigitRecognizer.load(last.done.checkpoint).info["history"]) == 1
    monkeypatch.setattr("train.engine.MLP", MLP)
    finish(slot)


def test_stop_while_saving_still_saves_one_whole_file(runs, monkeypatch):
    slot = TrainingSlot()
    real_save = app_train.train.__globals__["save_checkpoint"]

    def save_and_press_stop(*args, **kwargs):
        slot.request_stop("alice")
        return real_save(*args, **kwargs)

    monkeypatch.setitem(app_train.train.__globals__, "save_checkpoint", save_and_press_stop)
    last = list(run_training(slot, QUICK, "alice"))[-1]
    assert last.done.checkpoint is not None and not last.done.stopped and last.phase == "finished"
    assert len(list(runs.glob("*.safetensors"))) == 1
    finish(slot)


def test_train_pressed_twice_is_refused_and_the_first_run_carries_on(runs):
    slot = TrainingSlot()
    first = run_training(slot, QUICK, "alice")
    next(first)
    with pytest.raises(RunInProgress):
        next(run_training(slot, QUICK, "alice"))             # same visitor, second click
    last = list(first)[-1]
    assert last.done.checkpoint is not None and not last.done.stopped
    finish(slot)


def test_two_sessions_pressing_train_at_once_get_one_run(runs):
    slot = TrainingSlot()
    for round_ in range(20):
        barrier, outcomes, runs_started = threading.Barrier(2), [], []

        def press(owner):
            run = run_training(slot, QUICK, owner)
            barrier.wait()
            try:
                next(run)
                runs_started.append(run)
                outcomes.append("run")
            except RunInProgress:
                outcomes.append("refused")

        threads = [threading.Thread(target=press, args=(f"{who}{round_}",)) for who in ("alice", "bob")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert sorted(outcomes) == ["refused", "run"], outcomes
        runs_started[0].close()                               # the winner leaves before any work
    finish(slot)


def test_a_closed_tab_ends_the_run_from_another_thread_and_saves(runs):
    slot = TrainingSlot()
    run = run_training(slot, replace(QUICK, epochs=50), "alice")
    for _ in range(25):                                       # Gradio iterates a generator in worker threads
        worker = threading.Thread(target=next, args=(run,))
        worker.start()
        worker.join(10)
    run.close()                                               # the cancelled job, from the event loop
    assert slot.owner is None
    saved = list(runs.glob("*.safetensors"))
    assert len(saved) == 1 and DigitRecognizer.load(saved[0]).info["stopped"] is True
    finish(slot)


def test_a_run_dropped_without_close_is_ended_by_the_garbage_collector(runs):
    slot = TrainingSlot()
    run = run_training(slot, replace(QUICK, epochs=50), "alice")
    for _ in range(15):
        next(run)
    del run
    gc.collect()
    assert slot.owner is None and len(list(runs.glob("*.safetensors"))) == 1
    finish(slot)
