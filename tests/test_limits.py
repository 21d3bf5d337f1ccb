"""Limits for a public server (webapp.guards.limits): defaults and environment overrides, the training switch,
a run over the step cap refused before it trains, a run past the time cap stopped and saved, and runs
trained in the app pruned to the count cap."""
from __future__ import annotations

import time
from dataclasses import replace

import pytest

import webapp.training.slot as training_slot
from mnist_model import DigitRecognizer
from train import TrainConfig
from webapp.guards.limits import OverServerLimit, ServerLimits, training_allowed
from webapp.training.slot import TrainingSlot, run_training

QUICK = TrainConfig(epochs=1, batch_size=250, augment=False, styles=0.0)   # exact step counts: no extra digits


@pytest.fixture
def small(small_mnist, monkeypatch):
    monkeypatch.setattr(training_slot, "load_mnist", lambda **_: small_mnist)
    return small_mnist


def test_defaults_and_environment_overrides(mnist, monkeypatch):
    for var in ("TRAIN_MAX_STEPS", "TRAIN_MAX_SECONDS", "RUNS_KEEP", "RUNS_MAX_MB"):
        monkeypatch.delenv(var, raising=False)
    assert ServerLimits.from_env() == ServerLimits()
    ServerLimits().check(TrainConfig(), mnist)                             # the default run is allowed
    monkeypatch.setenv("RUNS_KEEP", "3")
    monkeypatch.setenv("TRAIN_MAX_SECONDS", "1.5")
    assert ServerLimits.from_env() == ServerLimits(keep_runs=3, max_seconds=1.5)
    monkeypatch.setenv("TRAIN_MAX_STEPS", "lots")
    with pytest.raises(ValueError, match="TRAIN_MAX_STEPS"):
        ServerLimits.from_env()


def test_a_run_over_the_step_cap_is_refused_before_it_trains(runs, small, monkeypatch):
    monkeypatch.delenv("TRAIN_MAX_STEPS", raising=False)
    slot = TrainingSlot()
    run = run_training(slot, TrainConfig(epochs=100, batch_size=1, styles=0.0), "alice")
    assert next(run).phase == "loading"
    with pytest.raises(OverServerLimit, match="200,000 steps"):     # 100 epochs of the 2,000 small digits
        next(run)
    assert slot.owner is None and not list(runs.iterdir())


def test_a_run_past_the_time_cap_is_stopped_and_saved(runs, small, monkeypatch):
    monkeypatch.setenv("TRAIN_MAX_SECONDS", "1")
    slot = TrainingSlot()
    started = time.monotonic()
    snaps = [(s.status(), s.done) for s in run_training(slot, replace(QUICK, epochs=100), "alice")]
    assert time.monotonic() - started < 15                                # 100 epochs would take minutes
    assert any("limit of 1 s" in status for status, _ in snaps)
    done = snaps[-1][1]
    assert done.stopped and done.checkpoint is not None and len(done.history) < 100
    assert DigitRecognizer.load(done.checkpoint).info["stopped"] is True


def test_runs_trained_in_the_app_are_pruned_to_the_cap(runs, small, monkeypatch):
    monkeypatch.setenv("RUNS_KEEP", "2")
    slot = TrainingSlot()
    saved = [list(run_training(slot, QUICK, "alice"))[-1].done.checkpoint for _ in range(3)]
    assert sorted(runs.iterdir()) == sorted(saved[1:])


@pytest.mark.parametrize("value, allowed", [(None, True), ("1", True), ("0", False), ("false", False),
                                            (" OFF ", False), ("yes", True)])
def test_training_switch(monkeypatch, value, allowed):
    if value is None:
        monkeypatch.delenv("ALLOW_TRAINING", raising=False)
    else:
        monkeypatch.setenv("ALLOW_TRAINING", value)
    assert training_allowed() is allowed
