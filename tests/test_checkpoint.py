"""Checkpoint I/O: exact round trips, and every broken or hostile file refused with CheckpointError.
A checkpoint being written when the process dies, or when the disk fills, never costs the previous
model and is never mistaken for a model."""
from __future__ import annotations

import json
import os
import pickle
import random
import resource
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from safetensors.torch import save_file

from mnist_model import (DEFAULT_CHECKPOINT, MLP, CheckpointError, DigitRecognizer, ModelConfig, load_checkpoint,
                         read_metadata, save_checkpoint)
from mnist_model.checkpoint import FORMAT
from tests.conftest import REPO

INFO = {"mean": 0.1307, "std": 0.3081, "test_accuracy": 0.9}


def test_round_trip_gives_identical_logits(tmp_path):
    torch.manual_seed(0)
    model = MLP().eval()
    path = save_checkpoint(tmp_path / "m.safetensors", model, INFO)
    loaded, info = load_checkpoint(path)
    x = torch.randn(64, 784)
    assert torch.equal(model(x), loaded(x))
    assert info["mean"] == INFO["mean"] and ModelConfig.from_dict(info["model_config"]) == ModelConfig()
    assert set(info) >= {"versions", "created", "test_accuracy"}
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"], "no temporary file may be left behind"


def test_shipped_default_meets_the_mnist_goal():
    model, info = load_checkpoint()
    assert DEFAULT_CHECKPOINT.is_file()
    assert info["test_accuracy"] >= 0.985
    assert [layer.out_features for layer in model.layers] == [200, 150, 100, 80, 10]
    assert all(layer.bias is not None for layer in model.layers)


class _Payload:
    """Unpickling this would create a marker file: proof that code ran."""
    marker = ""

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_with_code_payload_is_refused_and_never_run(tmp_path):
    _Payload.marker = str(tmp_path / "pwned")
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"weights": _Payload()}))
    torch_path = tmp_path / "evil.pt"
    with open(torch_path, "wb") as f:
        torch.save({"weights": _Payload()}, f)
    for p in (path, torch_path):
        with pytest.raises(CheckpointError, match="not a readable model checkpoint"):
            load_checkpoint(p)
    assert not (tmp_path / "pwned").exists()


def _good(tmp_path):
    return save_checkpoint(tmp_path / "good.safetensors", MLP(), INFO)


def test_truncated_file_is_refused(tmp_path):
    data = _good(tmp_path).read_bytes()
    for cut in (0, 7, 100, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            load_checkpoint(path)


def test_random_bytes_and_missing_files_are_refused(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(os.urandom(5000))
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "absent.safetensors")
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path)


def test_foreign_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=f"not a {FORMAT} checkpoint"):
        load_checkpoint(path)


def _with_metadata(tmp_path, tensors, info, name="x.safetensors"):
    path = tmp_path / name
    save_file(tensors, str(path), metadata={"format": FORMAT, "format_version": "1", "info": json.dumps(info)})
    return path


def test_weights_of_another_architecture_are_refused(tmp_path):
    other = MLP(ModelConfig(hidden=(64,)))
    tensors = {k: v.contiguous() for k, v in other.state_dict().items()}
    # Stored config claims the documented architecture, the weights are another one.
    path = _with_metadata(tmp_path, tensors, {**INFO, "model_config": ModelConfig().to_dict()})
    with pytest.raises(CheckpointError, match="do not match the model config"):
        load_checkpoint(path)
    # A config that cannot be read at all.
    path = _with_metadata(tmp_path, tensors, {**INFO, "model_config": {"hidden": "lots"}}, "y.safetensors")
    with pytest.raises(CheckpointError, match="model config is damaged"):
        load_checkpoint(path)
    # Weights of the right shapes stored as float64 or int8 are not this model's format.
    wide = {k: v.double() for k, v in MLP().state_dict().items()}
    path = _with_metadata(tmp_path, wide, {**INFO, "model_config": ModelConfig().to_dict()}, "f64.safetensors")
    with pytest.raises(CheckpointError, match="float32"):
        load_checkpoint(path)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux: ru_maxrss in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_declared_shape_is_checked_before_anything_is_allocated(tmp_path):
    # A small file whose config claims a 1,000,000-wide hidden layer: building that model first
    # would allocate ~3 GB on every pick. The header's tensor shapes refuse it before.
    tensors = {k: v.contiguous() for k, v in MLP().state_dict().items()}
    path = _with_metadata(tmp_path, tensors, {**INFO, "model_config": {"in_features": 784, "hidden": [1_000_000],
                                                                        "n_classes": 10}}, "huge.safetensors")
    before = peak_rss_mb()
    for _ in range(3):
        with pytest.raises(CheckpointError, match="do not match the model config"):
            DigitRecognizer.load(path)
        with pytest.raises(CheckpointError, match="do not match the model config"):
            read_metadata(path)
    assert peak_rss_mb() - before < 150


def test_nan_weights_bad_normalisation_and_damaged_metadata_are_refused(tmp_path):
    tensors = {k: v.contiguous() for k, v in MLP().state_dict().items()}
    good_info = {**INFO, "model_config": ModelConfig().to_dict()}
    nan = {**tensors, "layers.0.weight": torch.full_like(tensors["layers.0.weight"], float("nan"))}
    with pytest.raises(CheckpointError, match="NaN"):
        load_checkpoint(_with_metadata(tmp_path, nan, good_info, "nan.safetensors"))
    with pytest.raises(CheckpointError, match="out of range"):
        load_checkpoint(_with_metadata(tmp_path, tensors, {**good_info, "std": 0}, "std.safetensors"))
    path = tmp_path / "meta.safetensors"
    save_file(tensors, str(path), metadata={"format": FORMAT, "format_version": "1", "info": "{not json"})
    with pytest.raises(CheckpointError, match="metadata is damaged"):
        load_checkpoint(path)
    path = tmp_path / "v9.safetensors"
    save_file(tensors, str(path), metadata={"format": FORMAT, "format_version": "9", "info": "{}"})
    with pytest.raises(CheckpointError, match="format version"):
        load_checkpoint(path)


def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path):
    path = _good(tmp_path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="mean"):
        save_checkpoint(path, MLP(), {"std": 0.3})
    with pytest.raises(TypeError):          # info that is not JSON: fails before anything is written
        save_checkpoint(path, MLP(), {**INFO, "bad": object()})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["good.safetensors"]


WRITER = textwrap.dedent("""
    import sys, torch
    from mnist_model import MLP, save_checkpoint
    path, n = sys.argv[1], 0
    print("ready", flush=True)
    while True:   # rewrite the same checkpoint forever, each version tagged with its number
        n += 1
        torch.manual_seed(n)
        save_checkpoint(path, MLP(), {"mean": 0.13, "std": 0.31, "version": n})
""")


def test_sigkill_while_saving_never_breaks_the_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, MLP(), {"mean": 0.13, "std": 0.31, "version": 0})
    rng = random.Random(0)
    versions = []
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))      # a save takes a few ms: this lands at random points in it
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _, info = load_checkpoint(path)          # the file at the path is always a whole checkpoint
        versions.append(info["version"])
        # Leftover temporaries exist only under names no loader or listing takes for a model.
        assert [p.name for p in tmp_path.glob("*.safetensors")] == ["model.safetensors"]
        assert all(p.name.startswith(".") and p.name.endswith(".tmp") for p in tmp_path.iterdir()
                   if p.name != "model.safetensors")
    assert max(versions) > 0, "the writer never got to replace the file: the test proved nothing"


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys, torch
    from mnist_model import MLP, save_checkpoint
    # A file-size limit makes writes fail exactly as a full disk does (EFBIG instead of ENOSPC).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    try:
        save_checkpoint(sys.argv[1], MLP(), {"mean": 0.13, "std": 0.31, "version": 2})
    except OSError as e:
        print("refused:", e.strerror)
""")


def test_full_disk_while_saving_keeps_the_old_model(tmp_path):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, MLP(), {"mean": 0.13, "std": 0.31, "version": 1})
    before = path.read_bytes()
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.startswith("refused: File too large"), result.stdout + result.stderr
    assert path.read_bytes() == before and load_checkpoint(path)[1]["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"], "the partial temporary was removed"
