"""How many torch threads the training process uses right now: every core while the server is quiet,
one while it serves visitors. On an idle server more threads end a run sooner; on a busy one each
multi-threaded op waits for whichever thread the server preempted, which is slower than one thread
(docs/results.md: Train tab latency). The server's own CPU time, read from
/proc between steps, says which case holds; where there is no /proc, the thread count stays fixed."""
from __future__ import annotations

import os
import time
from pathlib import Path

import torch

BUSY_CORES = 0.3      # the server using more than this share of a core means visitors are being served
CHECK_SECONDS = 0.5   # how often the server's CPU time is read
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds `pid` has used, or None where /proc cannot tell."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()     # after "pid (name)": state is fields[0], utime fields[11]
    return (int(fields[11]) + int(fields[12])) / TICKS


class CoreShare:
    """Sets torch's thread count, at most `most`, from how busy the process `server` has been lately.
    Call apply() often (between training steps); it reads /proc at most every CHECK_SECONDS."""

    def __init__(self, most: int, server: int) -> None:
        self.most, self.server = most, server
        self.threads = most
        self._last = (time.monotonic(), cpu_seconds(server))
        torch.set_num_threads(most)

    def apply(self) -> int:
        """The thread count now in force, after updating it if the server's load changed."""
        now = time.monotonic()
        if self.most == 1 or self._last[1] is None or now - self._last[0] < CHECK_SECONDS:
            return self.threads
        used = cpu_seconds(self.server)
        if used is None:         # the server is gone: the run is about to be cut off anyway
            return self.threads
        busy = (used - self._last[1]) / (now - self._last[0]) > BUSY_CORES
        self._last = (now, used)
        threads = 1 if busy else self.most
        if threads != self.threads:
            torch.set_num_threads(threads)
            self.threads = threads
        return threads
