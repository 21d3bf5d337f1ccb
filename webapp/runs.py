"""The runs folder: where runs trained in the app are saved, listed for the model picker, resolved
from a picker key and pruned.

A model is chosen by a key ("default", or "runs/<file relative to the runs folder>"), never by a
path sent from the browser, so a visitor can only ever load a file this catalog listed itself."""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from mnist_model import DEFAULT_CHECKPOINT, CheckpointError, read_metadata

from .limits import ServerLimits

REPO = Path(__file__).resolve().parent.parent
DEFAULT_KEY = "default"
RUN_PREFIX = "runs/"
STALE_TMP_SECONDS = 3600    # a save's temp file this old belongs to a process killed mid-write


def runs_dir() -> Path:
    """Where runs trained in the app are saved and looked for: $RUNS_DIR, else runs/ in the repo."""
    return Path(os.environ.get("RUNS_DIR") or REPO / "runs")


@dataclass(frozen=True)
class ModelEntry:
    key: str                    # what the picker sends back
    path: Path
    name: str | None            # the run's file name without suffix; None for the shipped model
    epochs: int                 # epochs trained (0 when the file does not say)
    stopped: bool               # stopped before its last epoch
    accuracy: float | None      # test accuracy, what the picker shows (webapp.draw.model_label)


def entry(key: str, path: Path, name: str | None, info: dict) -> ModelEntry:
    acc = info.get("test_accuracy")
    return ModelEntry(key, path, name, len(info.get("history") or []), bool(info.get("stopped")),
                      float(acc) if isinstance(acc, (int, float)) else None)


def list_models() -> list[ModelEntry]:
    """The shipped model first, then readable runs, newest first. Unreadable files are left out."""
    entries = [entry(DEFAULT_KEY, DEFAULT_CHECKPOINT, None, read_metadata(DEFAULT_CHECKPOINT))]
    root = runs_dir()
    runs = sorted(root.rglob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True) if root.is_dir() else []
    for path in runs:
        try:
            info = read_metadata(path)
        except CheckpointError:
            continue
        rel = path.relative_to(root).as_posix()
        entries.append(entry(RUN_PREFIX + rel, path, rel.removesuffix(".safetensors"), info))
    return entries


def run_key(path: Path) -> str:
    """The picker key of a checkpoint saved under the runs folder."""
    return RUN_PREFIX + path.resolve().relative_to(runs_dir().resolve()).as_posix()


def resolve(key: str) -> Path:
    """The checkpoint file behind a picker key. Raises CheckpointError for keys the catalog never made."""
    if key == DEFAULT_KEY:
        return DEFAULT_CHECKPOINT
    if isinstance(key, str) and key.startswith(RUN_PREFIX) and key.endswith(".safetensors"):
        root = runs_dir().resolve()
        try:
            path = (root / key[len(RUN_PREFIX):]).resolve()
            if path.is_relative_to(root) and path.is_file():
                return path
        except (OSError, ValueError):     # a name too long for the file system, a NUL byte
            pass
    raise CheckpointError(f"no model {key!r} in this app; pick one from the list")


def new_run_path() -> Path:
    """A fresh checkpoint path under the runs folder; never the shipped model, never an older run."""
    return runs_dir() / f"app-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}.safetensors"


def prune_runs(limits: ServerLimits, keep: Path | None = None) -> list[Path]:
    """Delete the oldest runs trained here beyond limits.keep_runs or limits.max_runs_mb in total (never
    `keep`), and temp files of saves killed mid-write. Returns what was deleted. Only names this app
    makes (app-*) are touched: other files in the folder were put there by a person."""
    root, removed = runs_dir(), []
    kept, total = (1, keep.stat().st_size) if keep is not None and keep.is_file() else (0, 0)
    now = time.time()
    for tmp in root.glob(".app-*.tmp"):
        if now - tmp.stat().st_mtime > STALE_TMP_SECONDS:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    for path in sorted(root.glob("app-*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True):
        if path == keep:
            continue
        size = path.stat().st_size
        if kept < limits.keep_runs and total + size <= limits.max_runs_mb * 1e6:
            kept, total = kept + 1, total + size
        else:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
