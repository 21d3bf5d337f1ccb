"""The app's model picker: the shipped checkpoint plus every run saved under the runs folder.

A model is chosen by a key ("default", or "runs/<file relative to the runs folder>"), never by a
path sent from the browser, so a visitor can only ever load a file this catalog listed itself."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from mnist_model import DEFAULT_CHECKPOINT, CheckpointError, DigitRecognizer, read_metadata

REPO = Path(__file__).resolve().parent
DEFAULT_KEY = "default"
RUN_PREFIX = "runs/"


def runs_dir() -> Path:
    """Where runs trained in the app are saved and looked for: $RUNS_DIR, else runs/ in the repo."""
    return Path(os.environ.get("RUNS_DIR") or REPO / "runs")


@dataclass(frozen=True)
class ModelEntry:
    key: str       # what the picker sends back
    path: Path
    label: str     # what the picker shows, with the test accuracy


def describe(name: str, info: dict) -> str:
    """A picker label such as "app-20250101-120000 · 3 epochs · test 97.12%"."""
    parts = [name]
    history = info.get("history") or []
    if history:
        parts.append(f"{len(history)} epoch{'s' if len(history) != 1 else ''}"
                     + (" (stopped)" if info.get("stopped") else ""))
    acc = info.get("test_accuracy")
    parts.append(f"test {acc:.2%}" if isinstance(acc, (int, float)) else "test accuracy unknown")
    return " · ".join(parts)


def list_models() -> list[ModelEntry]:
    """The shipped model first, then readable runs, newest first. Unreadable files are left out."""
    entries = [ModelEntry(DEFAULT_KEY, DEFAULT_CHECKPOINT,
                          describe("shipped model", read_metadata(DEFAULT_CHECKPOINT)))]
    root = runs_dir()
    runs = sorted(root.rglob("*.safetensors"), key=lambda p: p.stat().st_mtime, reverse=True) if root.is_dir() else []
    for path in runs:
        try:
            info = read_metadata(path)
        except CheckpointError:
            continue
        rel = path.relative_to(root).as_posix()
        entries.append(ModelEntry(RUN_PREFIX + rel, path, describe(rel.removesuffix(".safetensors"), info)))
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


class Recognizers:
    """Loaded models by key, reloaded when their file changes. Thread-safe; predictions on a loaded
    recognizer run concurrently (the forward pass holds no lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[str, tuple[int, DigitRecognizer]] = {}

    def get(self, key: str) -> DigitRecognizer:
        path = resolve(key)
        try:
            stamp = path.stat().st_mtime_ns
            with self._lock:
                cached = self._loaded.get(key)
                if cached is None or cached[0] != stamp:
                    cached = (stamp, DigitRecognizer.load(path))
                    self._loaded[key] = cached
        except OSError as e:    # deleted since it was listed (app_train.prune_runs), or unreadable
            raise CheckpointError(f"model {key!r} can no longer be read ({e.strerror or e}); pick another") from None
        return cached[1]
