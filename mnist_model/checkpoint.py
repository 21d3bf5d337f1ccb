"""Checkpoint I/O: one safetensors file holding the weights and, in its metadata, everything
needed to use them again (model config, normalisation, training config, history, versions).

safetensors stores raw tensors and a JSON header, so loading a file can never run code from it,
unlike a pickle. Writes go to a temporary file that is renamed over the target, so a crash
mid-save leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from .model import MLP, ModelConfig

FORMAT = "mnist-mlp"
FORMAT_VERSION = 1
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "mnist_mlp.safetensors"
MAX_CHECKPOINT_BYTES = 32 * 1024 * 1024    # the real model is ~0.9 MB; refuse anything absurd before reading it
MAX_LAYERS = 64                            # linear layers; the documented MLP has 5


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, foreign or does not match its own config."""


def save_checkpoint(path: str | os.PathLike, model: MLP, info: dict) -> Path:
    """Atomically write `model` and `info` (JSON-serialisable; must hold "mean" and "std")."""
    path = Path(path)
    for key in ("mean", "std"):
        if key not in info:
            raise ValueError(f"checkpoint info needs {key!r}")
    full_info = {
        **info,
        "model_config": model.config.to_dict(),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "created": info.get("created") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "info": json.dumps(full_info)}
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, save(tensors, metadata=metadata))   # serialised first: a bad tensor fails before any I/O
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part: into a
    temp file `.NAME.*.tmp` beside it, made durable, then renamed over it. A process killed mid-write
    leaves only that temp file, which its folder's owner deletes when stale."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:       # plain writes, so a full disk raises a normal OSError
            f.write(data)
            f.flush()
            os.fsync(f.fileno())             # the bytes are durable before the rename publishes them
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_metadata(path: str | os.PathLike) -> dict:
    """The checkpoint's info dict, without building the model. Raises CheckpointError."""
    return _header(Path(path))[0]


def load_checkpoint(path: str | os.PathLike | None = None) -> tuple[MLP, dict]:
    """Load a checkpoint (the shipped default when `path` is None) onto the CPU, in eval mode."""
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    tensors, info = _open(path)
    try:
        config = ModelConfig.from_dict(info["model_config"])
        model = MLP(config)
        model.load_state_dict(tensors, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path.name}: the weights do not match the model config stored with them "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    if not all(torch.isfinite(t).all() for t in tensors.values()):
        raise CheckpointError(f"{path.name}: the weights contain NaN or infinity")
    return model.eval(), info


def _open(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    info, path = _header(path)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path.name} is not a readable model checkpoint (truncated, corrupt or another "
                              f"format): {str(e)[:200]}") from None
    return tensors, info


def _header(path: Path) -> tuple[dict, Path]:
    """The info dict, after every check the header allows (format, metadata, tensor names, shapes and
    dtypes against the model config) and before any tensor is read: whatever its metadata claims, a
    file cannot make the loader allocate more than the float32 weights it holds."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {path}")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"{path.name}: {size} bytes is far too large for this model's checkpoint")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path.name} is not a readable model checkpoint (truncated, corrupt or another "
                              f"format): {str(e)[:200]}") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is a safetensors file but not a {FORMAT} checkpoint")
    if metadata.get("format_version") != str(FORMAT_VERSION):
        version = str(metadata.get("format_version"))[:40]
        raise CheckpointError(f"{path.name} has checkpoint format version {version!r}; "
                              f"this code reads version {FORMAT_VERSION}")
    try:
        info = json.loads(metadata["info"])
        mean, std = float(info["mean"]), float(info["std"])
    # RecursionError: JSON nested thousands deep; AttributeError/TypeError: info is not an object.
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as e:
        raise CheckpointError(f"{path.name}: its metadata is damaged ({type(e).__name__}: {str(e)[:120]})") from None
    if not (0.0 <= mean <= 1.0 and 0.0 < std <= 1.0):
        raise CheckpointError(f"{path.name}: normalisation mean={mean}, std={std} is out of range")
    expected = _expected_shapes(path, info)
    if shapes != expected:
        wrong = sorted(k for k in shapes.keys() | expected.keys() if shapes.get(k) != expected.get(k))[:4]
        raise CheckpointError(f"{path.name}: the weights do not match the model config stored with them "
                              f"(tensors {', '.join(wrong)}: file {[shapes.get(k) for k in wrong]}, "
                              f"config {[expected.get(k) for k in wrong]})")
    if dtypes - {"F32"}:
        raise CheckpointError(f"{path.name}: weights of type {sorted(dtypes - {'F32'})}; this model stores float32")
    return info, path


def _expected_shapes(path: Path, info: dict) -> dict[str, tuple[int, ...]]:
    """The state_dict shapes the stored model config implies, computed without building the model."""
    try:
        config = ModelConfig.from_dict(info["model_config"])
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(f"{path.name}: its model config is damaged "
                              f"({type(e).__name__}: {str(e)[:120]})") from None
    widths = config.widths()
    if min(widths) < 1 or len(widths) > MAX_LAYERS + 1:
        raise CheckpointError(f"{path.name}: a model config of widths {str(widths)[:120]} is not an MLP "
                              f"this code builds")
    shapes = {}
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        shapes[f"layers.{i}.weight"], shapes[f"layers.{i}.bias"] = (b, a), (b,)
    return shapes
