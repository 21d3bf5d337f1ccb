"""The Draw tab's corrections: a visitor's drawing and the digit they say it is, stored as one item of
a dataset folder in Hugging Face's imagefolder layout (train.feedback.folder), with the limits a
public server needs, and pushed to a dataset repo on the Hub when the Space is set up for it.

Each item is written so that a server killed at any moment leaves only whole items: the PNG goes to
a temp file in the same folder and is renamed into place, then its metadata line is appended with
one write() to a file opened O_APPEND (whole, or not at all, for a regular file on Linux), under the
folder's lock (threads and processes) and the Hub scheduler's lock (no push sees half an item)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import threading
import time
from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_model import ImageError, to_mnist, write_atomic
from train.feedback import IMAGES, METADATA, folder_lock

from ..guards.limits import numbers_from_env
from ..i18n import text
from . import CANVAS

STALE_WRITE_SECONDS = 60       # a temp PNG this old was left by a writer killed mid-write


class FeedbackRefused(ValueError):
    """A drawing that is not stored. `key` and `values` are the visitor's message (webapp.i18n); the
    exception's own text is that message in English."""

    def __init__(self, key: str, **values) -> None:
        self.key, self.values = key, values
        super().__init__(text("en", key, **values))


@dataclass(frozen=True)
class FeedbackLimits:
    """What the store accepts, from the environment (README: Limits on a public server)."""
    per_minute: int = 30        # FEEDBACK_PER_MINUTE: items one browser session may send in 60 s
    max_items: int = 20_000     # FEEDBACK_MAX_ITEMS: items in the folder; 0 switches collecting off
    max_mb: float = 200.0       # FEEDBACK_MAX_MB: total size of the folder's PNGs and metadata

    @classmethod
    def from_env(cls) -> "FeedbackLimits":
        return numbers_from_env(cls, ("FEEDBACK_PER_MINUTE", "FEEDBACK_MAX_ITEMS", "FEEDBACK_MAX_MB"))


def drawing(sketch) -> Image.Image:
    """The sketch's composite (ink on white) as a grey image of at most CANVAS px a side. Raises
    ImageError when there is none. The pad's brush is black, so grey loses nothing and is a third the size."""
    composite = sketch.get("composite") if isinstance(sketch, dict) else sketch
    if composite is None:
        raise ImageError("the drawing has no composite image")
    image = composite if isinstance(composite, Image.Image) else (
        Image.open(composite) if isinstance(composite, (str, os.PathLike)) else Image.fromarray(np.asarray(composite)))
    image = image.convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    grey = Image.alpha_composite(white, image).convert("L")
    grey.thumbnail((CANVAS, CANVAS), Image.Resampling.LANCZOS)
    return grey


class FeedbackStore:
    """One feedback folder, shared by all visitors of this server."""

    def __init__(self, folder: str | os.PathLike, limits: FeedbackLimits | None = None, scheduler=None) -> None:
        self.folder = Path(folder)
        self.limits = limits or FeedbackLimits.from_env()
        self.scheduler = scheduler        # a huggingface_hub CommitScheduler pushing this folder, or None
        self._lock = threading.Lock()
        self._recent: dict[str, deque] = {}
        (self.folder / IMAGES).mkdir(parents=True, exist_ok=True)
        for tmp in (self.folder / IMAGES).glob(".*.tmp"):
            if time.time() - tmp.stat().st_mtime > STALE_WRITE_SECONDS:
                tmp.unlink(missing_ok=True)
        self.items, self.bytes = self._measure()

    def _measure(self) -> tuple[int, int]:
        meta = self.folder / METADATA
        lines = meta.read_text(encoding="utf-8").splitlines() if meta.is_file() else []
        size = sum(p.stat().st_size for p in (self.folder / IMAGES).glob("*.png"))
        return sum(1 for line in lines if line.strip()), size + (meta.stat().st_size if meta.is_file() else 0)

    def add(self, sketch, label, predicted: int | None, model: str, session: str, lang: str = "en") -> str:
        """Store the drawing with `label`; returns the visitor's message in `lang`, or raises FeedbackRefused."""
        if self.limits.max_items <= 0:
            raise FeedbackRefused("feedback.off")
        if isinstance(label, str) and label.strip().isdigit():
            label = int(label)
        if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
            raise FeedbackRefused("feedback.label", label=label)
        image = drawing(sketch)
        if predicted is None and not to_mnist(image).any():     # an answer means a model found ink in it
            raise FeedbackRefused("feedback.empty")
        self._take_turn(session)
        png = io.BytesIO()
        image.save(png, format="PNG", optimize=True)
        item_id = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"
        name = f"{IMAGES}/{item_id}.png"
        record = {"file_name": name, "label": label, "id": item_id, "predicted": predicted, "model": model,
                  "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  # anonymous: the same browser tab gives the same id, which names no one
                  "session": hashlib.sha256(session.encode()).hexdigest()[:12]}
        line = (json.dumps(record) + "\n").encode()
        size = len(png.getvalue()) + len(line)
        with folder_lock(self.folder), (self.scheduler.lock if self.scheduler else nullcontext()):
            if not self._fits(size):
                self.items, self.bytes = self._measure()          # a reviewer may have dropped items since
                if not self._fits(size):
                    raise FeedbackRefused("feedback.full")
            write_atomic(self.folder / name, png.getvalue())
            _append_line(self.folder / METADATA, line)
            self.items, self.bytes = self.items + 1, self.bytes + size
        return text(lang, "feedback.kept", label=label)

    def _fits(self, size: int) -> bool:
        return self.items < self.limits.max_items and self.bytes + size <= self.limits.max_mb * 1e6

    def _take_turn(self, session: str) -> None:
        """Refuse a session's item beyond per_minute in the last 60 s; forget sessions idle that long."""
        now = time.monotonic()
        with self._lock:
            for key in [k for k, q in self._recent.items() if not q or now - q[-1] > 60]:
                del self._recent[key]
            recent = self._recent.setdefault(session, deque())
            while recent and now - recent[0] > 60:
                recent.popleft()
            if len(recent) >= self.limits.per_minute:
                raise FeedbackRefused("feedback.rate", limit=self.limits.per_minute)
            recent.append(now)


def _append_line(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.write(fd, line) != len(line):     # never short for a regular file; if it were, say so
            raise OSError(f"short write to {path}")
        os.fsync(fd)
    finally:
        os.close(fd)
