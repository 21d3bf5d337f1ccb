"""Loaded models by picker key, shared by every visitor of the server."""
from __future__ import annotations

import threading

from mnist_model import CheckpointError, DigitRecognizer

from ..training.runs import quoted, resolve


class Recognizers:
    """Loaded models by key, reloaded when their file changes. Thread-safe. Predictions on a loaded
    recognizer run concurrently: the lock they take guards only the dict, never a load. Loads run one
    at a time under a lock of their own, and a file that failed is remembered (by its modification
    time) and refused again without being read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()         # the two dicts
        self._loading = threading.Lock()      # one load at a time: picks cannot pile up loads
        self._loaded: dict[str, tuple[int, DigitRecognizer]] = {}
        self._refused: dict[str, tuple[int, CheckpointError]] = {}

    def get(self, key: str) -> DigitRecognizer:
        path = resolve(key)
        try:
            stamp = path.stat().st_mtime_ns
        except OSError as e:    # deleted since it was listed (runs.prune_runs), or unreadable
            raise CheckpointError(f"model {quoted(key)} can no longer be read ({e.strerror or e}); "
                                  f"pick another") from None
        while True:
            with self._lock:
                cached, refused = self._loaded.get(key), self._refused.get(key)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            if refused is not None and refused[0] == stamp:
                raise refused[1]
            if self._loading.acquire(blocking=False):
                break
            with self._loading:     # another load is running (maybe this key's): wait, then look again
                pass
        try:
            recognizer = DigitRecognizer.load(path)
        except CheckpointError as e:
            with self._lock:
                self._refused[key] = (stamp, e)
            raise
        except OSError as e:    # deleted or replaced while it was read: not the file's fault, not remembered
            raise CheckpointError(f"model {quoted(key)} can no longer be read ({e.strerror or e}); "
                                  f"pick another") from None
        finally:
            self._loading.release()
        with self._lock:
            self._loaded[key] = (stamp, recognizer)
            self._refused.pop(key, None)
        return recognizer
