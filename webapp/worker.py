"""The app's training process: `train_in_child` runs `train.train` (the one training loop) in a
process of its own and yields its events as they arrive, as the engine's own generator would. (On a
ZeroGPU Space, webapp.zerogpu runs it in the worker process `spaces.GPU` provides instead.)

Why a process: a training thread in the server shares Python's interpreter lock with every request
handler, which slows an epoch several times over under load (docs/results.md: Serving under load). Why "spawn":
forking a server that runs threads (Gradio's, torch's pool) can copy a lock held mid-use into the
child, which then hangs. The child gets the server's MNIST splits, its number of torch threads and
its file-based stop flag, and sends each event down a pipe without waiting for the server to read
it: a busy server delays the snapshots, not the training."""
from __future__ import annotations

import os
import pickle
import signal
import time
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Iterator

import torch

from train import DoneEvent, Event, MnistSplits, StopSignal, TrainConfig, train

SPAWN = get_context("spawn")
FINISH_SECONDS = 120.0    # after a stop, the child's time to end its step, test and save before it is killed
EXIT_SECONDS = 10.0       # after its last event, the child's time to exit before it is killed


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


def _child(config: TrainConfig, out: Path, data: bytes, stop: StopSignal, threads: int, conn: Connection) -> None:
    """The child's whole life: drive the engine and send every event, or the exception that ended it."""
    if hasattr(os, "setsid"):
        # A session of its own: where Linux groups CPU time by session (autogroup), training and the
        # server then share the cores as two equals, however many threads the server runs.
        os.setsid()
    torch.set_num_threads(threads)
    try:
        for event in train(config, out=out, data=pickle.loads(data), stop=stop):
            conn.send(event)
    except BrokenPipeError:    # the server is gone; leaving the loop closed the engine, which saved
        return
    except Exception as e:     # reaches the server's caller as if the engine had raised it there
        try:
            conn.send(e)
        except Exception:      # an exception that does not pickle still gets its words across
            conn.send(RuntimeError(f"{type(e).__name__}: {e}"))
        return
    conn.close()
    # The run is saved and reported. Skip the interpreter's teardown (mostly torch's), which the server
    # would wait for before it frees the training slot.
    os._exit(0)


def train_in_child(config: TrainConfig, out: Path, data: MnistSplits, stop: StopSignal) -> Iterator[Event]:
    """`train(config, out, data, stop=stop)` in a spawned process, its events yielded here. Closing
    this generator before the DoneEvent sets `stop` and waits (up to FINISH_SECONDS) for the child to
    save its best weights, as closing the engine's generator does. A child that dies first raises
    TrainingDied; an exception in the child is raised here."""
    config.validate()
    receiver, sender = SPAWN.Pipe(duplex=False)
    # The splits go pickled by value (~55 MB): multiprocessing would move the tensors
    # into shared memory instead, and a container's /dev/shm is often only 64 MB.
    child = SPAWN.Process(target=_child, args=(config, out, pickle.dumps(data), stop, torch.get_num_threads(),
                                               sender), name="training", daemon=True)   # daemon: ends with the server
    child.start()
    sender.close()    # the child now holds the pipe's only write end: its death reads as EOF here
    done = False
    try:
        while not done:
            try:
                event = receiver.recv()
            except EOFError:
                child.join(EXIT_SECONDS)
                raise TrainingDied(f"The training process ended unexpectedly ({_exit_reason(child.exitcode)}); "
                                   "nothing was saved. Press Train to start again.") from None
            if isinstance(event, Exception):
                raise event
            done = isinstance(event, DoneEvent)
            yield event
    finally:
        if not done:      # closed early (a closed tab, a cancelled call, an error): end the run, let it save
            stop.set()
            _drain(receiver, FINISH_SECONDS)
        child.join(EXIT_SECONDS)
        if child.is_alive():
            child.kill()
            child.join()
        receiver.close()


def _drain(receiver: Connection, seconds: float) -> None:
    """Read and drop events until the DoneEvent, the child's exit or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    try:
        while receiver.poll(max(0.0, deadline - time.monotonic())):
            if isinstance(receiver.recv(), DoneEvent):
                return
    except EOFError:
        pass


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
