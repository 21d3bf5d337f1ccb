"""The app's training process, kept between runs: `TrainingProcess` starts it once (app.py starts the
server's, SERVER_PROCESS, before building the UI, so that the two get ready at once), hands it MNIST
once, and then has it run `train.train` (the one training loop) for one run after another, yielding
each run's events as they arrive, as the engine's own generator would. It is started again, at the
next run, if it dies. (On a ZeroGPU Space, webapp.training.zerogpu runs the engine in the worker
process `spaces.GPU` provides instead.)

Why a process: a training thread in the server shares Python's interpreter lock with every request
handler, which slows an epoch several times over under load (docs/results.md: Serving under load).
Why kept: a new process per run spent seconds importing torch and drawing the style copies before its
first step (docs/results.md: Train tab latency). Why "spawn": forking a server that runs threads
(Gradio's, torch's pool) can copy a lock held mid-use into the child, which then hangs. The process
sends each event down a pipe without waiting for the server to read it: a busy server delays the
snapshots, not the training."""
from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Iterator

import numpy as np

from mnist_model import MLP
from train import Event, MnistSplits, StopSignal, TrainConfig, load_mnist, train, with_styles
from train.data import cache_dir, data_root, mnist_present
from train.engine import optimiser

from ..guards.limits import TRAINING_THREADS
from .cores import CoreShare

SPAWN = get_context("spawn")
FINISH_SECONDS = 120.0    # after a stop, the process's time to end its step, test and save before it is killed
EXIT_SECONDS = 10.0       # time a closed process gets to exit before it is killed
RUN_ENDED = "run ended"   # sent after each run's last event or exception: the pipe is then ready for the next


class StopFlag:
    """A stop switch that also crosses process boundaries: the engine runs in another process (the
    app's training process, or ZeroGPU's worker) that receives its arguments pickled, where a
    threading.Event would be a disconnected copy. set() creates a file; the engine polls is_set()
    once per step (one stat call, far cheaper than a step)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self) -> None:
        self.path.touch()

    def is_set(self) -> bool:
        return self.path.exists()


class TrainingDied(RuntimeError):
    """The training process ended without finishing its run (killed, crashed, out of memory)."""


def _serve(conn: Connection, threads: int, ready_for: TrainConfig | None) -> None:
    """The process's whole life: get ready for a run of `ready_for`, hold the splits it is sent (and their
    style copies, drawn once per styles setting), and run each requested run, sending its events, then
    RUN_ENDED. It trains on up to `threads` torch threads, one while the server is busy
    (webapp.training.cores)."""
    if hasattr(os, "setsid"):
        # A session of its own: where Linux groups CPU time by session (autogroup), training and the
        # server then share the cores as two equals, however many threads the server runs.
        os.setsid()
    cores = CoreShare(threads, os.getppid())
    _import_ahead()
    if ready_for is not None:
        _make_caches(ready_for)
    data, styled = None, {}
    while True:
        try:
            kind, *args = conn.recv()
        except EOFError:           # the server closed the pipe or is gone
            os._exit(0)
        try:
            if kind == "data":
                data, styled = pickle.loads(args[0]), {}
                continue
            config, out, stop, probe = args
            key = (config.styles, config.seed)
            if key not in styled:
                styled[key] = with_styles(config, data, cache_dir(data_root()))   # drawn once per machine
            if kind == "prepare":
                conn.send(RUN_ENDED)
                continue
            for event in train(config, out=out, data=styled[key], stop=stop, probe=probe):
                cores.apply()
                conn.send(event)
        except (BrokenPipeError, ConnectionResetError):   # the server is gone; leaving the loop saved the run
            os._exit(0)
        except Exception as e:     # reaches the server's caller as if the engine had raised it there
            try:
                conn.send(e)
            except Exception:      # an exception that does not pickle still gets its words across
                conn.send(RuntimeError(f"{type(e).__name__}: {e}"))
        conn.send(RUN_ENDED)


def _import_ahead() -> None:
    """Pay now, while the server is still starting, the imports a run's first step would wait for: torch
    imports its compiler (torch._dynamo) when the first optimiser is made, about as slow as torch itself."""
    config = TrainConfig()
    optimiser(config, MLP(config.model_config()))


def _make_caches(config: TrainConfig) -> None:
    """Where missing, make the tensor files (train.cache) that the first run of `config` reads back: on a
    machine's first start, reading MNIST's raw files and drawing the style copies take seconds. Best
    effort, and only where MNIST is already here: the first run downloads it, or says why it cannot."""
    if not mnist_present():
        return
    try:
        with_styles(config, load_mnist(valid_size=config.valid_size, seed=config.seed), cache_dir(data_root()))
    except Exception as e:
        print(f"training caches not made: {type(e).__name__}: {e}", flush=True)


class TrainingProcess:
    """One training process for the server, started on first use and kept for the next run. One
    caller at a time uses it (a lock); the server's training slot already admits one run at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._child = None
        self._conn: Connection | None = None
        self._data: MnistSplits | None = None     # the splits the process holds

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None and self._child.is_alive() else None

    def start(self, ready_for: TrainConfig | None = None) -> None:
        """Start the process if it is not running; it imports what training needs and makes the tensor
        files a run of `ready_for` reads, then waits for data."""
        with self._lock:
            self._start(ready_for)

    def prepare(self, config: TrainConfig, data: MnistSplits) -> None:
        """Start the process if needed, give it `data` and have it draw `config`'s style copies, so
        that a run of `config` starts training at once."""
        with self._lock:
            self._send_data(data)
            self._conn.send(("prepare", config, None, None, None))
            self._read_until_ended(FINISH_SECONDS)

    def run(self, config: TrainConfig, out: Path, data: MnistSplits, stop: StopSignal,
            probe: np.ndarray | None = None) -> Iterator[Event]:
        """`train(config, out, data, stop=stop, probe=probe)` in the training process, its events yielded
        here. Closing this generator before the DoneEvent sets `stop` and waits (up to FINISH_SECONDS)
        for the run to save its best weights, as closing the engine's generator does. A process that
        dies first raises TrainingDied; an exception in the run is raised here."""
        config.validate()
        with self._lock:
            self._send_data(data)
            self._conn.send(("run", config, out, stop, probe))
            ended = False
            try:
                while True:
                    event = self._recv()
                    if isinstance(event, str):       # RUN_ENDED
                        ended = True
                        return
                    if isinstance(event, Exception):
                        ended = True
                        if not self._read_until_ended(EXIT_SECONDS):
                            self._close()
                        raise event
                    yield event
            finally:
                if not ended and self._conn is not None:
                    # Closed early (a closed tab, a cancelled call, an error): end the run, let it save.
                    stop.set()
                    if not self._read_until_ended(FINISH_SECONDS):
                        self._close()

    def close(self) -> None:
        """End the process (the server is shutting down, or a test is done with it)."""
        with self._lock:
            self._close()

    def _start(self, ready_for: TrainConfig | None = None) -> None:
        if self._child is None or not self._child.is_alive():
            self._close()
            parent, child_end = SPAWN.Pipe()
            self._child = SPAWN.Process(target=_serve, args=(child_end, TRAINING_THREADS, ready_for),
                                        name="training", daemon=True)       # daemon: ends with the server
            self._child.start()
            child_end.close()     # the process now holds the only other end: its death reads as EOF here
            self._conn, self._data = parent, None

    def _send_data(self, data: MnistSplits) -> None:
        self._start()
        if self._data is not data:
            # Pickled by value (~55 MB), once: multiprocessing would move the tensors into shared
            # memory instead, and a container's /dev/shm is often only 64 MB.
            self._conn.send(("data", pickle.dumps(data)))
            self._data = data

    def _recv(self):
        try:
            return self._conn.recv()
        except (EOFError, ConnectionResetError):
            child = self._child
            child.join(EXIT_SECONDS)
            self._close()
            raise TrainingDied(f"The training process ended unexpectedly ({_exit_reason(child.exitcode)}); "
                               "nothing was saved. Press Train to start again.") from None

    def _read_until_ended(self, seconds: float) -> bool:
        """Read and drop events until RUN_ENDED (True), or the process's death or `seconds` (False)."""
        deadline = time.monotonic() + seconds
        try:
            while self._conn.poll(max(0.0, deadline - time.monotonic())):
                if isinstance(self._conn.recv(), str):     # RUN_ENDED
                    return True
        except (EOFError, ConnectionResetError, OSError):
            pass
        return False

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._child is not None:
            self._child.join(EXIT_SECONDS if self._conn is not None else 0)
            if self._child.is_alive():
                self._child.kill()
                self._child.join()
        self._child, self._conn, self._data = None, None, None


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


SERVER_PROCESS = TrainingProcess()    # the server's: its training slot (webapp.training.tab) runs in it
