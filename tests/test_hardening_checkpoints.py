"""Hostile and broken files in the runs folder, through the app's own path (catalog, picker, predict):
each is refused with a readable message, no code in them runs, and the visitor keeps the model in use."""
from __future__ import annotations

import os
import pickle
import shutil

import gradio as gr
import numpy as np
import pytest
import torch

import app
from app_models import DEFAULT_KEY, list_models, resolve
from mnist_model import DEFAULT_CHECKPOINT, MLP, CheckpointError, ModelConfig, load_checkpoint, save_checkpoint

DRAWING = np.pad(np.full((60, 8), 255, np.uint8), 30)      # a "1", white on black


class Payload:
    """Unpickling this creates a marker file: proof that code from the file ran."""
    marker = ""

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def hostile_files(runs, outside) -> dict[str, str]:
    """Write each kind of bad file into `runs`; returns {picker key: kind}."""
    Payload.marker = str(runs.parent / "pwned")
    (runs / "pickle.safetensors").write_bytes(pickle.dumps({"weights": Payload()}))
    with open(runs / "torch-save.safetensors", "wb") as f:
        torch.save({"weights": Payload()}, f)
    good = DEFAULT_CHECKPOINT.read_bytes()
    (runs / "truncated.safetensors").write_bytes(good[: len(good) // 3])
    (runs / "random.safetensors").write_bytes(np.random.default_rng(0).bytes(4096))
    (runs / "empty.safetensors").write_bytes(b"")
    model, info = load_checkpoint()
    save_checkpoint(runs / "narrow-input.safetensors", MLP(ModelConfig(in_features=100, hidden=(16,))), info)
    save_checkpoint(runs / "five-classes.safetensors", MLP(ModelConfig(hidden=(16,), n_classes=5)), info)
    mismatched = runs / "config-mismatch.safetensors"       # real weights, metadata claiming another shape
    save_checkpoint(mismatched, model, info)
    raw = mismatched.read_bytes().replace(b'\\"hidden\\": [200, 150, 100, 80]', b'\\"hidden\\": [200, 150, 100, 81]')
    assert raw != mismatched.read_bytes()
    mismatched.write_bytes(raw)
    shutil.copy(DEFAULT_CHECKPOINT, outside / "elsewhere.safetensors")
    (runs / "link.safetensors").symlink_to(outside / "elsewhere.safetensors")   # points out of the folder
    return {"runs/" + p.name: p.stem for p in runs.iterdir()}


@pytest.fixture
def runs(tmp_path, monkeypatch):
    (tmp_path / "runs").mkdir()
    (tmp_path / "outside").mkdir()
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_hostile_files_are_refused_by_picker_and_predict_and_the_current_model_stays(runs):
    keys = hostile_files(runs, runs.parent / "outside")
    listed = {e.key for e in list_models()}
    assert listed <= {DEFAULT_KEY, *keys}
    expected = app.predict(DRAWING, DEFAULT_KEY)[0]
    for key in sorted(keys):
        with pytest.warns(UserWarning, match="Still using the previous model"):
            kept, picker = app.choose_model(key, DEFAULT_KEY)
        assert kept == DEFAULT_KEY and picker.value == DEFAULT_KEY, key
        with pytest.raises(gr.Error) as error:            # a stale key in a visitor's state
            app.predict(DRAWING, key)
        assert len(error.value.message) > 20 and "Traceback" not in error.value.message
        assert app.predict(DRAWING, DEFAULT_KEY)[0] == expected     # the model in use still answers
    assert not (runs.parent / "pwned").exists(), "code from a pickle ran"
    assert len(keys) == 9


@pytest.mark.parametrize("key", ["runs/../outside/elsewhere.safetensors", "../checkpoints/mnist_mlp.safetensors",
                                 str(DEFAULT_CHECKPOINT), "runs/%2e%2e/outside/elsewhere.safetensors",
                                 "runs/sub/../../outside/elsewhere.safetensors", "runs/\x00.safetensors",
                                 "file:///etc/passwd", "runs/" + "a" * 5000 + ".safetensors"])
def test_paths_outside_the_runs_folder_are_refused(runs, key):
    shutil.copy(DEFAULT_CHECKPOINT, runs.parent / "outside" / "elsewhere.safetensors")
    with pytest.raises(CheckpointError):
        resolve(key)
    with pytest.warns(UserWarning):
        assert app.choose_model(key, DEFAULT_KEY)[0] == DEFAULT_KEY


def test_a_good_run_replaced_by_garbage_after_loading_is_refused_and_the_default_still_works(runs):
    path = runs / "app-run.safetensors"
    shutil.copy(DEFAULT_CHECKPOINT, path)
    kept, _ = app.choose_model("runs/app-run.safetensors", DEFAULT_KEY)
    assert kept == "runs/app-run.safetensors" and app.predict(DRAWING, kept)[0]["1"] > 0.5
    path.write_bytes(b"\x00" * 100)
    os.utime(path, ns=(1, 1))                              # a different stamp: the cache must not hide it
    with pytest.raises(gr.Error, match="not a readable model checkpoint"):
        app.predict(DRAWING, kept)
    with pytest.warns(UserWarning):
        assert app.choose_model(kept, DEFAULT_KEY)[0] == DEFAULT_KEY
    assert app.predict(DRAWING, DEFAULT_KEY)[0]["1"] > 0.5


def test_a_run_deleted_between_listing_and_loading_is_a_clear_refusal(runs, monkeypatch):
    path = runs / "app-gone.safetensors"
    shutil.copy(DEFAULT_CHECKPOINT, path)
    real_resolve = app.recognizers.get.__globals__["resolve"]

    def resolve_then_delete(key):                          # retention pruning it at the worst moment
        found = real_resolve(key)
        found.unlink()
        return found

    monkeypatch.setitem(app.recognizers.get.__globals__, "resolve", resolve_then_delete)
    with pytest.raises(gr.Error, match="can no longer be read"):
        app.predict(DRAWING, "runs/app-gone.safetensors")
