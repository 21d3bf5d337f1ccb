"""The app's model catalog and training slot, in process: only listed files can be picked, runs are
labelled with their test accuracy, one run holds the slot, and a closed run frees it and saves."""
from __future__ import annotations

import shutil

import pytest

from app_models import DEFAULT_KEY, Recognizers, list_models, resolve, run_key
from app_train import RunInProgress, TrainingSlot, run_training, training_allowed
from mnist_model import DEFAULT_CHECKPOINT, CheckpointError, DigitRecognizer, load_checkpoint, save_checkpoint
from train import TrainConfig


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs").mkdir()
    return tmp_path / "runs"


def test_catalog_lists_default_then_readable_runs_with_accuracy(runs):
    shutil.copy(DEFAULT_CHECKPOINT, runs / "good.safetensors")
    (runs / "broken.safetensors").write_bytes(b"not a checkpoint")
    entries = list_models()
    assert [e.key for e in entries] == [DEFAULT_KEY, "runs/good.safetensors"]
    shipped = f"test {load_checkpoint()[1]['test_accuracy']:.2%}"
    assert all(e.label.endswith(shipped) for e in entries)
    assert resolve("runs/good.safetensors") == (runs / "good.safetensors").resolve()
    assert run_key(runs / "good.safetensors") == "runs/good.safetensors"


@pytest.mark.parametrize("key", ["runs/../../checkpoints/mnist_mlp.safetensors", "runs//etc/passwd",
                                 "runs/missing.safetensors", str(DEFAULT_CHECKPOINT), "runs/notes.txt", "", None])
def test_catalog_refuses_keys_it_never_listed(runs, key):
    (runs / "notes.txt").write_text("x")
    with pytest.raises(CheckpointError):
        resolve(key)


def test_recognizers_reload_a_changed_file(runs):
    path = runs / "m.safetensors"
    model, info = load_checkpoint()
    save_checkpoint(path, model, {**info, "test_accuracy": 0.5})
    cache = Recognizers()
    first = cache.get(run_key(path))
    assert cache.get(run_key(path)) is first and first.info["test_accuracy"] == 0.5
    save_checkpoint(path, model, {**info, "test_accuracy": 0.25})
    assert cache.get(run_key(path)).info["test_accuracy"] == 0.25
    assert isinstance(cache.get(DEFAULT_KEY), DigitRecognizer)


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


def test_closing_a_run_frees_the_slot_and_saves_its_best_weights(runs, mnist_root, monkeypatch):
    monkeypatch.setenv("MNIST_ROOT", str(mnist_root))
    slot = TrainingSlot()
    run = run_training(slot, TrainConfig(epochs=5, batch_size=512, augment=False), "alice")
    snaps = [next(run) for _ in range(3)]
    assert snaps[-1].phase == "training" and slot.owner == "alice"
    run.close()                                       # what Gradio does when the call is cancelled
    assert slot.owner is None
    saved = list(runs.glob("*.safetensors"))
    assert len(saved) == 1 and DigitRecognizer.load(saved[0]).info["stopped"] is True


@pytest.mark.parametrize("value, allowed", [(None, True), ("1", True), ("0", False), ("false", False),
                                            (" OFF ", False), ("yes", True)])
def test_training_switch(monkeypatch, value, allowed):
    if value is None:
        monkeypatch.delenv("ALLOW_TRAINING", raising=False)
    else:
        monkeypatch.setenv("ALLOW_TRAINING", value)
    assert training_allowed() is allowed

