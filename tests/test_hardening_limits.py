"""Limits for a public server (app_train.ServerLimits): a run over the step cap is refused before any
work, a run past the time cap is stopped and saved, and old runs are deleted beyond the count and size
caps, leaving files a person put there alone."""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace

import pytest

import app_train
from app_train import ServerLimits, TrainingSlot, prune_runs, run_training
from mnist_model import DEFAULT_CHECKPOINT, DigitRecognizer
from train import TrainConfig

QUICK = TrainConfig(epochs=1, batch_size=250, augment=False, styles=0.0)   # exact step counts: no extra digits


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs").mkdir()
    return tmp_path / "runs"


@pytest.fixture
def small(mnist, monkeypatch):
    data = replace(mnist, train_x=mnist.train_x[:2000], train_y=mnist.train_y[:2000], valid_x=mnist.valid_x[:1000],
                   valid_y=mnist.valid_y[:1000], test_x=mnist.test_x[:1000], test_y=mnist.test_y[:1000])
    monkeypatch.setattr(app_train, "load_mnist", lambda **_: data)
    return data


def fake_runs(runs, n: int) -> list:
    """n copies of the shipped model named as the app names runs, oldest first, a minute apart."""
    paths = []
    for i in range(n):
        path = runs / f"app-2025010{i}-000000-000{i}.safetensors"
        shutil.copy(DEFAULT_CHECKPOINT, path)
        os.utime(path, (time.time() - 60 * (n - i),) * 2)
        paths.append(path)
    return paths


def test_defaults_and_environment_overrides(monkeypatch):
    for var in ("TRAIN_MAX_STEPS", "TRAIN_MAX_SECONDS", "RUNS_KEEP", "RUNS_MAX_MB"):
        monkeypatch.delenv(var, raising=False)
    assert ServerLimits.from_env() == ServerLimits()
    ServerLimits().check(TrainConfig())                                    # the default run is allowed
    monkeypatch.setenv("RUNS_KEEP", "3")
    monkeypatch.setenv("TRAIN_MAX_SECONDS", "1.5")
    assert ServerLimits.from_env() == ServerLimits(keep_runs=3, max_seconds=1.5)
    monkeypatch.setenv("TRAIN_MAX_STEPS", "lots")
    with pytest.raises(ValueError, match="TRAIN_MAX_STEPS"):
        ServerLimits.from_env()


def test_batch_size_one_for_100_epochs_is_refused_before_the_slot_is_taken(runs, monkeypatch):
    monkeypatch.delenv("TRAIN_MAX_STEPS", raising=False)
    monkeypatch.setattr(app_train, "load_mnist", lambda **_: pytest.fail("no data may be read"))
    slot = TrainingSlot()
    with pytest.raises(ValueError, match="5,500,000 steps"):
        next(run_training(slot, TrainConfig(epochs=100, batch_size=1, styles=0.0), "alice"))
    assert slot.owner is None and not list(runs.iterdir())


def test_a_run_past_the_time_cap_is_stopped_and_saved(runs, small, monkeypatch):
    monkeypatch.setenv("TRAIN_MAX_SECONDS", "1")
    slot = TrainingSlot()
    started = time.monotonic()
    snaps = [(s.phase, s.done) for s in run_training(slot, replace(QUICK, epochs=100), "alice")]
    assert time.monotonic() - started < 15                                # 100 epochs would take minutes
    assert any("limit of 1 s" in phase for phase, _ in snaps)
    done = snaps[-1][1]
    assert done.stopped and done.checkpoint is not None and len(done.history) < 100
    assert DigitRecognizer.load(done.checkpoint).info["stopped"] is True


def test_prune_keeps_the_newest_runs_and_other_peoples_files(runs):
    old = fake_runs(runs, 5)
    shutil.copy(DEFAULT_CHECKPOINT, runs / "mine.safetensors")           # not named by the app: never touched
    (runs / ".app-x.safetensors.1.tmp").write_bytes(b"half")             # a save killed mid-write, long ago
    os.utime(runs / ".app-x.safetensors.1.tmp", (time.time() - 7200,) * 2)
    (runs / ".app-y.safetensors.2.tmp").write_bytes(b"half")             # recent: maybe still being written
    removed = prune_runs(ServerLimits(keep_runs=3))
    assert sorted(removed) == sorted([*old[:2], runs / ".app-x.safetensors.1.tmp"])
    assert sorted(p.name for p in runs.iterdir()) == sorted(
        [p.name for p in old[2:]] + ["mine.safetensors", ".app-y.safetensors.2.tmp"])


def test_prune_caps_the_total_size_and_never_deletes_the_run_just_saved(runs):
    old = fake_runs(runs, 4)
    size_mb = old[0].stat().st_size / 1e6
    prune_runs(ServerLimits(keep_runs=10, max_runs_mb=2.5 * size_mb), keep=old[0])   # room for two
    assert sorted(runs.iterdir()) == sorted([old[0], old[3]])


def test_runs_trained_in_the_app_are_pruned_to_the_cap(runs, small, monkeypatch):
    monkeypatch.setenv("RUNS_KEEP", "2")
    slot = TrainingSlot()
    saved = [list(run_training(slot, QUICK, "alice"))[-1].done.checkpoint for _ in range(3)]
    assert sorted(runs.iterdir()) == sorted(saved[1:])
