"""The runs folder (webapp.training.runs) and the models loaded from it (webapp.draw.recognizers): only listed files
can be picked, runs are labelled with their test accuracy, old runs are pruned beyond the caps while
files a person put there stay, and hostile or broken files are refused through the app's own path
(catalog, picker, predict) with a readable message: no code in them runs, and the visitor keeps the
model in use."""
from __future__ import annotations

import os
import pickle
import shutil
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from harness.hostile import write_hostile_runs
from mnist_model import (DEFAULT_CHECKPOINT, MLP, CheckpointError, DigitRecognizer, ModelConfig, load_checkpoint,
                         save_checkpoint)
from webapp.draw import tab as draw_tab
from webapp.draw.recognizers import Recognizers
from webapp.guards.limits import ServerLimits
from webapp.training.runs import DEFAULT_KEY, RUN_PREFIX, list_models, prune_runs, resolve, run_key


def test_catalog_lists_default_then_readable_runs_with_accuracy(runs):
    shutil.copy(DEFAULT_CHECKPOINT, runs / "good.safetensors")
    (runs / "broken.safetensors").write_bytes(b"not a checkpoint")
    entries = list_models()
    assert [e.key for e in entries] == [DEFAULT_KEY, "runs/good.safetensors"]
    shipped = load_checkpoint()[1]["test_accuracy"]
    assert all(e.accuracy == shipped for e in entries)
    en, ru = draw_tab.model_label(entries[1], "en"), draw_tab.model_label(entries[1], "ru")
    assert en.startswith("good · ") and en.endswith(f"test {shipped:.2%}") and ru.endswith(f"тест {shipped:.2%}")
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


def fake_runs(runs, n: int) -> list:
    """n copies of the shipped model named as the app names runs, oldest first, a minute apart."""
    paths = []
    for i in range(n):
        path = runs / f"app-2025010{i}-000000-000{i}.safetensors"
        shutil.copy(DEFAULT_CHECKPOINT, path)
        os.utime(path, (time.time() - 60 * (n - i),) * 2)
        paths.append(path)
    return paths


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


def test_hostile_files_are_refused_by_picker_and_predict_and_the_current_model_stays(runs):
    (runs.parent / "outside").mkdir()
    keys = hostile_files(runs, runs.parent / "outside")
    listed = {e.key for e in list_models()}
    assert listed <= {DEFAULT_KEY, *keys}
    expected = draw_tab.predict(DRAWING, DEFAULT_KEY)[0]
    for key in sorted(keys):
        with pytest.warns(UserWarning, match="Still using the previous model"):
            kept, picker = draw_tab.choose_model(key, DEFAULT_KEY)
        assert kept == DEFAULT_KEY and picker.value == DEFAULT_KEY, key
        with pytest.raises(gr.Error) as error:            # a stale key in a visitor's state
            draw_tab.predict(DRAWING, key)
        assert len(error.value.message) > 20 and "Traceback" not in error.value.message
        assert draw_tab.predict(DRAWING, DEFAULT_KEY)[0] == expected     # the model in use still answers
    assert not (runs.parent / "pwned").exists(), "code from a pickle ran"
    assert len(keys) == 9


@pytest.mark.parametrize("key", ["runs/../outside/elsewhere.safetensors", "../checkpoints/mnist_mlp.safetensors",
                                 str(DEFAULT_CHECKPOINT), "runs/%2e%2e/outside/elsewhere.safetensors",
                                 "runs/sub/../../outside/elsewhere.safetensors", "runs/\x00.safetensors",
                                 "file:///etc/passwd", "runs/" + "a" * 5000 + ".safetensors"])
def test_paths_outside_the_runs_folder_are_refused(runs, key):
    (runs.parent / "outside").mkdir()
    shutil.copy(DEFAULT_CHECKPOINT, runs.parent / "outside" / "elsewhere.safetensors")
    with pytest.raises(CheckpointError):
        resolve(key)
    with pytest.warns(UserWarning):
        assert draw_tab.choose_model(key, DEFAULT_KEY)[0] == DEFAULT_KEY


def test_a_good_run_replaced_by_garbage_after_loading_is_refused_and_the_default_still_works(runs):
    path = runs / "app-run.safetensors"
    shutil.copy(DEFAULT_CHECKPOINT, path)
    kept, _ = draw_tab.choose_model("runs/app-run.safetensors", DEFAULT_KEY)
    assert kept == "runs/app-run.safetensors" and draw_tab.predict(DRAWING, kept)[0]["1"] > 0.5
    path.write_bytes(b"\x00" * 100)
    os.utime(path, ns=(1, 1))                              # a different stamp: the cache must not hide it
    with pytest.raises(gr.Error, match="not a readable model checkpoint"):
        draw_tab.predict(DRAWING, kept)
    with pytest.warns(UserWarning):
        assert draw_tab.choose_model(kept, DEFAULT_KEY)[0] == DEFAULT_KEY
    assert draw_tab.predict(DRAWING, DEFAULT_KEY)[0]["1"] > 0.5


def test_a_run_deleted_between_listing_and_loading_is_a_clear_refusal(runs, monkeypatch):
    path = runs / "app-gone.safetensors"
    shutil.copy(DEFAULT_CHECKPOINT, path)
    real_resolve = draw_tab.recognizers.get.__globals__["resolve"]

    def resolve_then_delete(key):                          # retention pruning it at the worst moment
        found = real_resolve(key)
        found.unlink()
        return found

    monkeypatch.setitem(draw_tab.recognizers.get.__globals__, "resolve", resolve_then_delete)
    with pytest.raises(gr.Error, match="can no longer be read"):
        draw_tab.predict(DRAWING, "runs/app-gone.safetensors")


def test_hostile_files_in_the_runs_folder_are_left_out_of_the_list(runs, caplog):
    # Each of these once made list_models raise, and with it `python app.py` at start-up.
    write_hostile_runs(runs)
    shutil.copy(DEFAULT_CHECKPOINT, runs / "good.safetensors")
    with caplog.at_level("INFO", logger="webapp.training.runs"):
        entries = list_models()
    # history.safetensors holds good weights under metadata fields of the wrong types: listed, and its
    # label leaves those fields out.
    labels = [(e.key, draw_tab.model_label(e, "en")) for e in entries]
    assert labels[1:] == [("runs/good.safetensors", labels[0][1].replace("shipped model", "good")),
                          ("runs/history.safetensors", "history · test accuracy unknown")]
    for name in ("dangling", "nested", "huge"):
        assert f"{name}.safetensors" in caplog.text


def test_runs_deleted_while_the_list_is_built_are_left_out(runs, monkeypatch):
    paths = fake_runs(runs, 6)
    real_rglob = Path.rglob

    def scan_then_prune(self, pattern):     # pruning deletes a run just after the folder was scanned
        found = list(real_rglob(self, pattern))
        paths[3].unlink()
        return found

    monkeypatch.setattr(Path, "rglob", scan_then_prune)
    keys = [e.key for e in list_models()]
    assert keys[0] == DEFAULT_KEY and len(keys) == 6 and RUN_PREFIX + paths[3].name not in keys


def test_a_refused_file_is_remembered_and_not_read_again(runs, monkeypatch):
    write_hostile_runs(runs)
    cache, loads = Recognizers(), []
    real_load = DigitRecognizer.load.__func__

    def counting_load(cls, path):
        loads.append(path)
        return real_load(cls, path)

    monkeypatch.setattr(DigitRecognizer, "load", classmethod(counting_load))
    for _ in range(3):
        with pytest.raises(CheckpointError, match="do not match the model config"):
            cache.get("runs/huge.safetensors")
    assert len(loads) == 1
    os.utime(runs / "huge.safetensors", ns=(1, 1))       # a changed file is read again
    with pytest.raises(CheckpointError):
        cache.get("runs/huge.safetensors")
    assert len(loads) == 2


def test_a_long_key_is_cut_in_the_message(runs):
    with pytest.raises(CheckpointError) as refused:
        resolve("runs/" + "x" * 30_000_000)
    assert len(str(refused.value)) < 300


def test_a_file_name_with_html_is_shown_as_text(runs):
    name = '<img src=x onerror=alert(1)>.safetensors'
    (runs / name).write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning) as warned:
        assert draw_tab.choose_model(RUN_PREFIX + name, DEFAULT_KEY)[0] == DEFAULT_KEY
    assert "&lt;img src=x" in str(warned[0].message) and "<img" not in str(warned[0].message)
    with pytest.raises(gr.Error) as refused:
        draw_tab.predict(DRAWING, RUN_PREFIX + name)
    assert "&lt;img" in refused.value.message and "<img" not in refused.value.message


def test_the_picker_quotes_a_value_it_does_not_list_cut_short(runs):
    # Gradio's own Dropdown echoed a 30 MB value whole, with every choice, into the error and the log. The
    # picker passes any value on, and choose_model refuses one it does not list, quoted cut short.
    picker = draw_tab.Picker(choices=draw_tab.picker_choices(), value=DEFAULT_KEY)
    huge = "<b>" + "x" * 30_000_000
    assert picker.preprocess(DEFAULT_KEY) == DEFAULT_KEY and picker.preprocess(huge) is huge
    with pytest.warns(UserWarning) as warned:
        assert draw_tab.choose_model(huge, DEFAULT_KEY)[0] == DEFAULT_KEY
    message = str(warned[0].message)
    assert len(message) < 300 and "&lt;b&gt;" in message and "Still using the previous model" in message
