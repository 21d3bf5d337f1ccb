"""The runs folder: where runs trained in the app are saved, listed for the model picker, resolved
from a picker key and pruned.

A model is chosen by a key ("default", or "runs/<file relative to the runs folder>"), never by a
path sent from the browser, so a visitor can only ever load a file this catalog listed itself."""
from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from mnist_model import DEFAULT_CHECKPOINT, CheckpointError, read_metadata

from ..guards.limits import ServerLimits

REPO = Path(__file__).resolve().parents[2]
DEFAULT_KEY = "default"
RUN_PREFIX = "runs/"
STALE_SAVE_SECONDS = 3600    # a save's temp file this old belongs to a process killed mid-write
QUOTED_CHARS = 80           # a key or name longer than this is cut when echoed in a message or a log line

log = logging.getLogger(__name__)


def quoted(text) -> str:
    """`text` as a message quotes it: repr'd, and cut to QUOTED_CHARS (a visitor may send megabytes)."""
    r = repr(text)
    return r if len(r) <= QUOTED_CHARS else r[:QUOTED_CHARS] + f"... ({len(r):,} characters)"


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
    accuracy: float | None      # test accuracy, what the picker shows (webapp.draw.tab.model_label)


def entry(key: str, path: Path, name: str | None, info: dict) -> ModelEntry:
    """The picker's facts about one checkpoint. Fields of the wrong type (the metadata of a file put in
    the runs folder by anyone) are taken as unknown."""
    history, acc = info.get("history"), info.get("test_accuracy")
    known = isinstance(acc, (int, float)) and not isinstance(acc, bool) and 0 <= acc <= 1
    return ModelEntry(key, path, name, len(history) if isinstance(history, list) else 0,
                      info.get("stopped") is True, float(acc) if known else None)


def list_models() -> list[ModelEntry]:
    """The shipped model first, then readable runs, newest first. Any file that cannot be listed (gone
    since the folder was read, a dangling link, unreadable, hostile metadata) is left out with a log
    line: what is in the runs folder never stops the app or the picker."""
    entries = [e for e in [_entry(DEFAULT_KEY, DEFAULT_CHECKPOINT, None)] if e]
    root = runs_dir()
    try:
        found = [(p.stat().st_mtime, p) for p in _existing(root.rglob("*.safetensors"))] if root.is_dir() else []
    except OSError as e:    # the folder itself is unreadable
        log.warning("runs folder %s not listed: %s", root, e)
        found = []
    for _, path in sorted(found, key=lambda t: t[0], reverse=True):
        rel = path.relative_to(root).as_posix()
        listed = _entry(RUN_PREFIX + rel, path, rel.removesuffix(".safetensors"))
        if listed:
            entries.append(listed)
    return entries


def _existing(paths) -> list[Path]:
    """The paths that can still be stat'ed (a run deleted by pruning meanwhile, a dangling link: not)."""
    kept = []
    for path in paths:
        try:
            path.stat()
            kept.append(path)
        except OSError as e:
            log.info("run %s left out of the model list: %s", quoted(path.name), e.strerror or e)
    return kept


def _entry(key: str, path: Path, name: str | None) -> ModelEntry | None:
    try:
        return entry(key, path, name, read_metadata(path))
    except (CheckpointError, OSError) as e:
        log.info("model %s left out of the model list: %s", quoted(key), str(e)[:200])
    except Exception as e:     # noqa: BLE001 - anything in a hostile file's metadata must not stop the app
        log.warning("model %s left out of the model list: %s: %s", quoted(key), type(e).__name__, str(e)[:200])
    return None


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
    raise CheckpointError(f"no model {quoted(key)} in this app; pick one from the list")


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
        if now - tmp.stat().st_mtime > STALE_SAVE_SECONDS:
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
