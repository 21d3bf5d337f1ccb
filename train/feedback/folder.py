"""A feedback folder: drawings visitors labelled, in Hugging Face's `imagefolder` layout, so that
`datasets.load_dataset("imagefolder", data_dir=DIR)` reads it with no code of ours:

    DIR/metadata.jsonl      one JSON object a line: file_name, label, and what the app adds
                            (id, predicted, model, time, session)
    DIR/images/<id>.png     the drawing as the app received it: ink on white, at most 448 px a side

A folder pushed to the Hub by several server starts holds one such folder per start, one level
down (DIR/<start>/metadata.jsonl); `read_feedback` reads either shape.

Writers and reviewers of one folder take `folder_lock` (an advisory file lock, so it holds across
processes): appends never interleave with a reviewer's rewrite of metadata.jsonl."""
from __future__ import annotations

import fcntl
import json
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from PIL import Image

from mnist_model import write_atomic
from mnist_model.preprocess import MAX_SIDE      # a stored drawing is 448 px a side at most

METADATA = "metadata.jsonl"
IMAGES = "images"
LOCK = ".lock"               # dot files are neither data nor pushed to the Hub


def feedback_dir() -> Path:
    """The corrections folder the app writes and the CLI reads: $FEEDBACK_DIR, else feedback/ here."""
    return Path(os.environ.get("FEEDBACK_DIR") or "feedback")


MAX_FILE_BYTES = 5 << 20     # nor is a PNG over 5 MB (the app's are a few kB)

_thread_lock = threading.Lock()   # flock is per open file: threads of one process need their own lock


class FeedbackError(ValueError):
    """A feedback folder, or one item of it, that cannot be used; the message names the item."""


@dataclass(frozen=True)
class FeedbackItem:
    path: Path        # the PNG, checked to lie inside the folder
    label: int        # what the visitor said it is, 0-9
    record: dict      # the whole metadata line (predicted digit, model, time, session, ...)

    @property
    def id(self) -> str:
        return str(self.record.get("id") or Path(self.record["file_name"]).stem)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive use of `folder`'s metadata.jsonl among this process's threads and other processes."""
    folder.mkdir(parents=True, exist_ok=True)
    with _thread_lock:
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)      # closing releases the flock


def metadata_files(folder: str | os.PathLike) -> list[Path]:
    """DIR/metadata.jsonl, or else the metadata.jsonl of each folder one level down, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FeedbackError(f"{folder}: no such folder")
    if (folder / METADATA).is_file():
        return [folder / METADATA]
    found = sorted(p for p in folder.glob(f"*/{METADATA}") if p.is_file())
    if not found:
        raise FeedbackError(f"{folder}: no {METADATA} (expected {folder}/{METADATA}, one JSON object a line "
                            f"with file_name and label)")
    return found


def read_feedback(folder: str | os.PathLike, check_images: bool = True) -> list[FeedbackItem]:
    """Every item of the folder, each checked (label 0-9, file_name a PNG inside its folder that
    decodes); FeedbackError names the first bad one, and no file other than those listed is opened."""
    items = []
    for meta in metadata_files(folder):
        for number, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                items.append(_item(meta, number, line, check_images))
    return items


def _item(meta: Path, number: int, line: str, check_images: bool) -> FeedbackItem:
    where = f"{meta} line {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise FeedbackError(f"{where}: not a JSON object ({e.msg})") from None
    if not isinstance(record, dict):
        raise FeedbackError(f"{where}: not a JSON object")
    label = record.get("label")
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
        raise FeedbackError(f"{where}: label must be a whole number 0-9, got {label!r}")
    name = record.get("file_name")
    if not isinstance(name, str) or not name:
        raise FeedbackError(f"{where}: file_name must be a path relative to {meta.parent}, got {name!r}")
    root = meta.parent.resolve()
    path = (root / name).resolve()
    if Path(name).is_absolute() or not path.is_relative_to(root):
        raise FeedbackError(f"{where}: file_name {name!r} points outside {meta.parent}")
    if check_images:
        _check_png(path, f"{where} ({name})")
    return FeedbackItem(path, label, record)


def _check_png(path: Path, where: str) -> None:
    if not path.is_file():
        raise FeedbackError(f"{where}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise FeedbackError(f"{where}: {path.stat().st_size:,} bytes, over the {MAX_FILE_BYTES:,} a drawing may have")
    try:
        with Image.open(path) as image:
            if image.format != "PNG":
                raise FeedbackError(f"{where}: a {image.format} file, not a PNG")
            if max(image.size) > MAX_SIDE:
                raise FeedbackError(f"{where}: {image.size[0]} x {image.size[1]} px, over {MAX_SIDE} a side")
            image.load()
    except FeedbackError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
        raise FeedbackError(f"{where}: not a readable PNG ({type(e).__name__}: {e})") from None


def drop_items(folder: str | os.PathLike, ids: set[str]) -> list[FeedbackItem]:
    """Delete the items with these ids (metadata line and PNG) from the folder's own metadata.jsonl;
    returns those deleted. The metadata is rewritten to a temp file and swapped in under the lock, so
    a crash leaves either the old list or the new one, and a server appending meanwhile waits."""
    folder = Path(folder)
    meta = folder / METADATA
    if not meta.is_file():
        raise FeedbackError(f"{folder}: no {METADATA}")
    with folder_lock(folder):
        keep, dropped = [], []
        for number, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            item = _item(meta, number, line, check_images=False)
            (dropped if item.id in ids else keep).append((item, line))
        write_atomic(meta, "".join(line + "\n" for _, line in keep).encode("utf-8"))
        for item, _ in dropped:
            item.path.unlink(missing_ok=True)
    return [item for item, _ in dropped]
