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
import logging
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
from train.feedback.folder import MAX_LINE

from ..guards.limits import numbers_from_env
from ..i18n import text
from . import CANVAS

STALE_WRITE_SECONDS = 60       # a temp PNG this old was left by a writer killed mid-write
log = logging.getLogger(__name__)


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
    # A new session per call is free, so sessions alone bound nothing: one address may fill no more than
    # 1/100 of max_items a day, and all visitors together no more than this many a minute.
    per_address_hour: int = 100     # FEEDBACK_PER_ADDRESS_HOUR: items from one client address in an hour
    server_per_minute: int = 120    # FEEDBACK_SERVER_PER_MINUTE: items from everyone in 60 s

    @classmethod
    def from_env(cls) -> "FeedbackLimits":
        return numbers_from_env(cls, ("FEEDBACK_PER_MINUTE", "FEEDBACK_MAX_ITEMS", "FEEDBACK_MAX_MB",
                                      "FEEDBACK_PER_ADDRESS_HOUR", "FEEDBACK_SERVER_PER_MINUTE"))


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

    def add(self, sketch, label, predicted: int | None, model: str, session: str, lang: str = "en",
            address: str = "") -> str:
        """Store the drawing with `label` (0-9, an int or a digit string) from a visitor's `session` at
        client `address`; returns the visitor's message in `lang`, or raises FeedbackRefused."""
        if self.limits.max_items <= 0:
            raise FeedbackRefused("feedback.off")
        label = digit_label(label)
        image = drawing(sketch)
        if predicted is None and not to_mnist(image).any():     # an answer means a model found ink in it
            raise FeedbackRefused("feedback.empty")
        self._take_turn(session, address)
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
            mend_last_line(self.folder / METADATA)
            _append_line(self.folder / METADATA, line)
            self.items, self.bytes = self.items + 1, self.bytes + size
        return text(lang, "feedback.kept", label=label)

    def _fits(self, size: int) -> bool:
        return self.items < self.limits.max_items and self.bytes + size <= self.limits.max_mb * 1e6

    def _take_turn(self, session: str, address: str) -> None:
        """Refuse an item past the session's, the address's or the server's rate (sliding windows);
        forget senders idle for a whole window."""
        now = time.monotonic()
        windows = [(("session", session), 60, self.limits.per_minute, "feedback.rate"),
                   (("address", address), 3600, self.limits.per_address_hour, "feedback.rate.address"),
                   (("server", ""), 60, self.limits.server_per_minute, "feedback.busy")]
        with self._lock:
            for key in [k for k, q in self._recent.items() if not q or now - q[-1] > 3600]:
                del self._recent[key]
            for key, seconds, limit, refusal in windows:
                recent = self._recent.setdefault(key, deque())
                while recent and now - recent[0] > seconds:
                    recent.popleft()
                if len(recent) >= limit:
                    raise FeedbackRefused(refusal, limit=limit)
            for key, *_ in windows:
                self._recent[key].append(now)


def digit_label(label) -> int:
    """`label` as a digit 0-9 (an int, or a string of one digit); FeedbackRefused quoting it cut short."""
    if isinstance(label, str) and len(label.strip()) == 1 and label.strip() in "0123456789":
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
        shown = repr(label)
        raise FeedbackRefused("feedback.label", label=shown if len(shown) <= 20 else shown[:20] + "...")
    return label


def mend_last_line(path: Path) -> None:
    """Before an append: a last line without its newline (a hand edit, a writer killed mid-line) would
    swallow the next item. A whole JSON object gets its newline; a fragment is cut off, with a log line."""
    try:
        with open(path, "rb+") as f:
            size = start = f.seek(0, os.SEEK_END)
            f.seek(max(size - 1, 0))
            if size == 0 or f.read(1) == b"\n":
                return
            while start > 0:         # back to the newline before the last line, a block at a time
                block = max(start - 65536, 0)
                f.seek(block)
                newline = f.read(start - block).rfind(b"\n")
                start = block + newline + 1 if newline >= 0 else block
                if newline >= 0:
                    break
            f.seek(start)
            fragment = f.read(MAX_LINE + 1)
            try:
                whole = len(fragment) <= MAX_LINE and isinstance(json.loads(fragment), dict)
            except (ValueError, RecursionError):
                whole = False
            if whole:
                f.seek(size)
                f.write(b"\n")
            else:
                log.warning("%s: a damaged last line of %d bytes was cut off before appending", METADATA,
                            size - start)
                f.truncate(start)
    except FileNotFoundError:
        pass


def _append_line(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.write(fd, line) != len(line):     # never short for a regular file; if it were, say so
            raise OSError(f"short write to {path}")
        os.fsync(fd)
    finally:
        os.close(fd)
