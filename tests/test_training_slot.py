"""The training slot and its driver (webapp.training.slot.run_training), which runs the engine in the slot's
training process (webapp.training.worker), kept between runs: one run holds the slot and only its owner stops
it; Stop at every phase, Train twice, two sessions at once, a closed tab, a training process that dies
or fails. After each: no thread left running, the slot free, every file in the runs folder a loadable
model, the next run works, and once the slot is closed no process is left. Where the timing is the engine's own (Stop during validation or saving), the
engine is driven directly, in this process, where its steps can be hooked."""
from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import replace

import pytest
import torch

import webapp.training.slot as training_slot
from mnist_model import MLP, DigitRecognizer
from train import DoneEvent, EpochEvent, StepEvent, TrainConfig, train
from webapp.training.slot import RunInProgress, TrainingSlot, run_training
from webapp.training.worker import TrainingDied

QUICK = TrainConfig(epochs=3, batch_size=250, augment=False, styles=0.0)   # 8 steps an epoch on the small split


@pytest.fixture
def small(small_mnist):
    return small_mnist


@pytest.fixture
def runs(runs, tmp_path, monkeypatch, small):
    """The conftest's runs folder, MNIST replaced by the small split, and checks that a run left nothing behind."""
    monkeypatch.setattr(training_slot, "load_mnist", lambda **_: small)
    monkeypatch.setattr(training_slot, "UPDATE_SECONDS", 0.0)     # a snapshot per step: stops land mid-epoch
    before = set(threading.enumerate())
    yield tmp_path / "runs"
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(threading.enumerate()) - before, "threads left running after the run"
    assert not multiprocessing.active_children(), "a training process outlived its run"
    leftovers = list((tmp_path / "runs").glob(".*")) if (tmp_path / "runs").exists() else []
    assert not leftovers, f"temporary files left behind: {leftovers}"
    for path in (tmp_path / "runs").glob("*.safetensors"):
        DigitRecognizer.load(path)                            # every file there is a usable model


def finish(slot: TrainingSlot, owner: str = "next"):
    """The next visitor's run, to the end: the slot is free and training works. Then the slot's
    training process is ended (a server keeps it; a test must not leave it behind)."""
    assert slot.owner is None
    last = list(run_training(slot, replace(QUICK, epochs=1), owner))[-1]
    assert last.done.checkpoint is not None and last.done.test_acc > 0.3 and slot.owner is None
    slot.close()
    return last


def test_the_training_process_is_kept_between_runs_and_follows_the_drawing(runs, small):
    slot = TrainingSlot()
    slot.warm(QUICK)                                          # as the server does when it launches
    warmed = slot.process.pid
    probe = small.test_x[0].numpy()
    last = list(run_training(slot, QUICK, "alice", probe=probe))[-1]
    assert slot.process.pid == warmed is not None             # the warmed process ran it
    assert [r["epoch"] for r in last.probe] == [1, 2, 3] and last.first_layer.shape == (200, 784)
    assert all(sum(r["probabilities"]) == pytest.approx(1, abs=1e-5) for r in last.probe)
    assert sum(map(sum, last.done.confusion)) == len(small.test_y) and last.done.misread
    assert all("first_layer" not in e and "probe" not in e for e in last.epochs)
    again = list(run_training(slot, QUICK, "bob"))[-1]
    assert slot.process.pid == warmed and again.probe == [] and not again.has_probe
    finish(slot)


def test_a_process_started_with_the_server_makes_the_files_the_first_run_reads(runs, small, mnist_root, tmp_path,
                                                                               monkeypatch):
    kept = tmp_path / "kept"
    monkeypatch.setenv("TENSOR_CACHE", str(kept))
    config = replace(QUICK, styles=0.05)
    slot = TrainingSlot()
    slot.process.start(ready_for=config)         # as app.py does, before it builds the UI
    started = slot.process.pid
    slot.warm(config)                            # as the server does once it answers: waits for the files
    [folder] = kept.iterdir()
    assert (folder / "mnist.pt").is_file()
    # The process drew the copies for the whole MNIST split it read itself; the warm, for the split it was sent.
    assert len(list(folder.glob("styles-0.05-0-*.pt"))) == 2 and slot.process.pid == started
    finish(slot)


def test_stop_while_mnist_loads_saves_nothing(runs, small, monkeypatch):
    slot = TrainingSlot()

    def loading(**_):                                          # the visitor presses Stop during the read
        assert slot.request_stop("alice")
        return small

    monkeypatch.setattr(training_slot, "load_mnist", loading)
    snaps = list(run_training(slot, QUICK, "alice"))
    assert snaps[-1].done.checkpoint is None and "nothing saved" in snaps[-1].done.message
    assert not list(runs.glob("*.safetensors")) if runs.exists() else True
    monkeypatch.setattr(training_slot, "load_mnist", lambda **_: small)
    finish(slot)


def test_stop_mid_run_keeps_the_best_weights(runs):
    """The child runs ahead of the snapshots it sends, so Stop lands a few steps after the one seen
    (test_train pins the engine's own step-exact stop); the run ends there and keeps its best weights."""
    slot = TrainingSlot()
    for snap in run_training(slot, replace(QUICK, epochs=100), "alice"):
        if snap.step >= 12 and not slot.stop.is_set():         # in epoch 2
            assert slot.request_stop("alice")
    assert snap.done.stopped and 12 <= snap.step < 100 * 8
    assert snap.fraction == snap.step / snap.total_steps < 0.5      # the bar shows where it stopped
    info = DigitRecognizer.load(snap.done.checkpoint).info
    assert info["stopped"] is True and len(info["history"]) == len(snap.epochs) == snap.step // 8
    assert info["valid_accuracy"] >= max(e["valid_acc"] for e in info["history"])
    finish(slot)


def test_stop_during_validation_ends_after_that_epoch(small, tmp_path, monkeypatch):
    stop = threading.Event()

    class StopWhileValidating(MLP):
        def forward(self, x):
            if not self.training:                              # evaluate() runs the model in eval mode
                stop.set()
            return super().forward(x)

    monkeypatch.setattr("train.engine.MLP", StopWhileValidating)
    events = list(train(QUICK, tmp_path / "m.safetensors", data=small, stop=stop))
    assert [type(e) for e in events[-3:]] == [StepEvent, EpochEvent, DoneEvent] and events[-3].step == 8
    assert events[-1].stopped and len(DigitRecognizer.load(events[-1].checkpoint).info["history"]) == 1


def test_stop_while_saving_still_saves_one_whole_file(small, tmp_path, monkeypatch):
    stop = threading.Event()
    real_save = train.__globals__["save_checkpoint"]

    def save_and_press_stop(*args, **kwargs):
        stop.set()
        return real_save(*args, **kwargs)

    monkeypatch.setitem(train.__globals__, "save_checkpoint", save_and_press_stop)
    done = list(train(QUICK, tmp_path / "m.safetensors", data=small, stop=stop))[-1]
    assert stop.is_set() and done.checkpoint is not None and not done.stopped
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_stop_after_the_last_step_still_finishes_and_saves_once(runs):
    slot = TrainingSlot()
    for snap in run_training(slot, QUICK, "alice"):
        if snap.total_steps and snap.step == snap.total_steps and not slot.stop.is_set():
            assert slot.request_stop("alice")                  # the child is validating, testing or saving
    assert snap.done.checkpoint is not None and not snap.done.stopped and snap.phase == "finished"
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
    slot.warm(QUICK)                                          # as at launch: no next() waits for a process to start
    run = run_training(slot, replace(QUICK, epochs=100), "alice")   # far more steps than the pipe buffers
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
    run = run_training(slot, replace(QUICK, epochs=100), "alice")
    for _ in range(15):
        next(run)
    del run
    gc.collect()
    assert slot.owner is None and len(list(runs.glob("*.safetensors"))) == 1
    finish(slot)


def test_a_killed_training_process_frees_the_slot_with_a_clear_message(runs):
    slot = TrainingSlot()
    run = run_training(slot, replace(QUICK, epochs=100), "alice")
    while next(run).step < 10:
        pass
    [child] = multiprocessing.active_children()
    os.kill(child.pid, signal.SIGKILL)                          # out of memory, or a person's kill -9
    with pytest.raises(TrainingDied, match="ended unexpectedly .killed by SIGKILL.; nothing was saved"):
        for _ in run:
            pass
    assert slot.owner is None and not list(runs.glob("*.safetensors"))
    finish(slot)


def test_an_error_in_the_training_process_reaches_the_caller(runs, small, monkeypatch):
    broken = replace(small, train_y=torch.full_like(small.train_y, 10))   # no class 10: the loss raises
    monkeypatch.setattr(training_slot, "load_mnist", lambda **_: broken)
    slot = TrainingSlot()
    with pytest.raises(IndexError, match="out of bounds"):
        list(run_training(slot, replace(QUICK, seed=1), "alice"))   # another seed: the slot caches splits by it
    assert slot.owner is None
    monkeypatch.setattr(training_slot, "load_mnist", lambda **_: small)
    finish(slot)


def test_slot_holds_one_run_and_only_its_owner_stops_it():
    slot = TrainingSlot()
    with slot.claim("alice") as stop:
        with pytest.raises(RunInProgress, match="in progress"):
            with slot.claim("bob"):
                pass
        assert not slot.request_stop("bob") and not stop.is_set()
        assert slot.request_stop("alice") and stop.is_set()
    with slot.claim("bob") as stop:                     # freed on exit, with a fresh stop switch
        assert not stop.is_set()


def test_bad_config_is_refused_before_the_slot_is_taken():
    slot = TrainingSlot()
    with pytest.raises(ValueError, match="epochs"):
        next(run_training(slot, TrainConfig(epochs=0), "alice"))
    with slot.claim("bob"):
        pass


def test_closing_a_run_frees_the_slot_and_saves_its_best_weights(runs):
    slot = TrainingSlot()
    run = run_training(slot, TrainConfig(epochs=5, batch_size=512, augment=False), "alice")
    snaps = [next(run) for _ in range(3)]
    assert snaps[-1].phase == "training" and slot.owner == "alice"
    run.close()                                       # what Gradio does when the call is cancelled
    assert slot.owner is None
    saved = list(runs.glob("*.safetensors"))
    assert len(saved) == 1 and DigitRecognizer.load(saved[0]).info["stopped"] is True
    finish(slot)
