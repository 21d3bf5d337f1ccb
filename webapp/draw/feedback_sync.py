"""Where this server keeps corrections: a local folder, and on a Space set up for it, a dataset repo
on the Hub that huggingface_hub's CommitScheduler pushes the folder to every few minutes (the way
Hugging Face documents for keeping a Space's user data; a Space's own disk is wiped on restart).

Space secrets: FEEDBACK_REPO (a dataset repo id, e.g. "me/digit-corrections", created private when
missing) and HF_TOKEN (a token that may write to it). Each server start writes a folder of its own,
FEEDBACK_DIR/<start>/, pushed to <start>/ in the repo, so that a restarted Space, which begins with an
empty disk, adds to the dataset instead of replacing its metadata.jsonl. The imagefolder loader and
`python -m train --feedback` read such a tree as one dataset."""
from __future__ import annotations

import logging
import os
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path

from train.feedback import feedback_dir

from .feedback import FeedbackStore

PUSH_MINUTES = 5         # FEEDBACK_PUSH_MINUTES: how often the folder is pushed (each push is one commit)
log = logging.getLogger(__name__)
_store: FeedbackStore | None = None
_store_lock = threading.Lock()


def sync_settings(env: dict | None = None) -> dict | None:
    """CommitScheduler's arguments for this server's start, or None when corrections stay local
    (no FEEDBACK_REPO, or no token to write with)."""
    env = os.environ if env is None else env
    repo, token = env.get("FEEDBACK_REPO", "").strip(), env.get("HF_TOKEN", "").strip()
    if not repo:
        return None
    if not token:
        log.warning("FEEDBACK_REPO is set but HF_TOKEN is not: corrections are kept on this disk only")
        return None
    start = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    every = float(env.get("FEEDBACK_PUSH_MINUTES") or PUSH_MINUTES)
    return {"repo_id": repo, "repo_type": "dataset", "private": True, "token": token, "every": every,
            "folder_path": Path(env.get("FEEDBACK_DIR") or feedback_dir()) / start, "path_in_repo": start,
            "ignore_patterns": [".*", "**/.*"]}     # the lock file and temp files of half-written PNGs


def open_store(env: dict | None = None, hf_api=None) -> FeedbackStore:
    """A store for this server: pushed to the Hub when sync_settings says so, else local. A Hub that
    cannot be reached at start (bad token, no network) is logged and the store stays local."""
    settings = sync_settings(env)
    if settings is None:
        env = os.environ if env is None else env
        return FeedbackStore(Path(env.get("FEEDBACK_DIR") or feedback_dir()))
    from huggingface_hub import (
        CommitScheduler,  # imported here: only a Space that pushes needs it
    )

    folder = settings["folder_path"]
    try:
        scheduler = CommitScheduler(**settings, hf_api=hf_api)
    except Exception as e:      # HfHubHTTPError, connection errors, ...: all mean "not pushed"
        log.warning("corrections are kept on this disk only: pushing to %s failed (%s: %s)",
                    settings["repo_id"], type(e).__name__, e)
        return FeedbackStore(folder)
    return FeedbackStore(folder, scheduler=scheduler)


def store() -> FeedbackStore:
    """The server's store, opened on first use (never at import: a training child imports this package)."""
    global _store
    with _store_lock:
        if _store is None:
            _store = open_store()
        return _store
