"""The training process's thread count (webapp.training.cores): every core allowed while the server it watches is
quiet, one while that server keeps a core busy; read from the real CPU time of real processes."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Iterator

import pytest
import torch

from webapp.training import cores

pytestmark = pytest.mark.skipif(cores.cpu_seconds(1) is None, reason="needs Linux's /proc")


@pytest.fixture
def threads_restored():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@contextmanager
def watched(code: str) -> Iterator[int]:
    """The pid of a Python process running `code`, standing in for the server; killed afterwards."""
    server = subprocess.Popen([sys.executable, "-c", code])
    try:
        yield server.pid
    finally:
        server.kill()
        server.wait()


def settle(share: cores.CoreShare) -> int:
    """apply() over a few check intervals, as the training loop calls it between steps."""
    deadline = time.monotonic() + 4 * cores.CHECK_SECONDS
    while time.monotonic() < deadline:
        share.apply()
        time.sleep(0.05)
    return share.apply()


def test_cpu_seconds_counts_what_a_process_used():
    before = cores.cpu_seconds(os.getpid())
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    assert cores.cpu_seconds(os.getpid()) - before >= 0.25
    assert cores.cpu_seconds(2**22 + 12345) is None          # no such process


@pytest.mark.parametrize("code, expected", [("while True: pass", 1), ("import time; time.sleep(60)", 2)])
def test_one_thread_while_the_server_is_busy_every_core_while_it_is_quiet(code, expected, threads_restored):
    with watched(code) as server:
        share = cores.CoreShare(2, server)
        assert torch.get_num_threads() == 2
        assert settle(share) == expected and torch.get_num_threads() == expected


def test_back_to_every_core_when_the_server_calms_down(threads_restored):
    with watched("import time\nend = time.time() + 4\nwhile time.time() < end: pass\ntime.sleep(60)") as server:
        share = cores.CoreShare(2, server)
        assert settle(share) == 1
        time.sleep(3)
        assert settle(share) == 2


def test_a_single_core_allowance_never_changes(threads_restored):
    with watched("while True: pass") as server:
        share = cores.CoreShare(1, server)
        assert settle(share) == 1 and torch.get_num_threads() == 1
