"""Loaded models by picker key, shared by every visitor of the server."""
from __future__ import annotations

import threading

from mnist_model import CheckpointError, DigitRecognizer

from .runs import resolve


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
        except OSError as e:    # deleted since it was listed (runs.prune_runs), or unreadable
            raise CheckpointError(f"model {key!r} can no longer be read ({e.strerror or e}); pick another") from None
        return cached[1]
