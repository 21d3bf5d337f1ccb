"""The server's log: configured (the app's own lines, e.g. a runs-folder file left out, appear at INFO),
and rate-limited per logger, so that a flood of failing requests cannot fill the disk with tracebacks
(265,831 "Too many open files" tracebacks once wrote 124 MB in ~35 s). Past LOG_LINES_PER_MINUTE
records of one logger in a minute, the rest of that minute is counted and reported in one line."""
from __future__ import annotations

import logging
import time

from .limits import LOG_LINES_PER_MINUTE

# Loggers that uvicorn gives handlers of their own; every other logger reaches the root's.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class RateLimit(logging.Filter):
    """Lets through at most `per_minute` records per logger per minute; reports how many it held back."""

    def __init__(self, per_minute: int = LOG_LINES_PER_MINUTE):
        super().__init__()
        self.per_minute = per_minute
        self.windows: dict[str, tuple[float, int, int]] = {}    # logger -> (window start, let through, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        start, passed, held = self.windows.get(record.name, (now, 0, 0))
        if now - start >= 60:
            if held:
                record.msg = f"[{held} more records of this logger were left out of the last minute] {record.msg}"
            start, passed, held = now, 0, 0
        if passed >= self.per_minute:
            self.windows[record.name] = (start, passed, held + 1)
            return False
        self.windows[record.name] = (start, passed + 1, held)
        return True


def configure_logging() -> None:
    """Warnings and errors to stderr, and the app's own INFO lines; every handler rate-limited. Called
    before the app is built (its runs folder is listed then) and again once uvicorn has set up its loggers."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("webapp").setLevel(logging.INFO)
    for name in ("", *UVICORN_LOGGERS):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RateLimit) for f in handler.filters):
                handler.addFilter(RateLimit())
