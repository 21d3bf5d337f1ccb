"""The server's one training run: a slot that one visitor holds at a time, and `run_training`, which
drives the engine's generator (`train.train`, the same loop as the CLI) in the slot's training process
(kept between runs, warmed when the server launches) and turns its events into snapshots of the run.

The slot is a non-blocking lock: a second visitor is told a run is in progress instead of waiting
behind it. It is released when the driving generator ends, is closed (Stop, a cancelled API call,
a closed tab) or is garbage-collected, or the training process dies."""
from __future__ import annotations

import math
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from train import DoneEvent, EpochEvent, MnistSplits, StepEvent, TrainConfig, load_mnist
from train.feedback import feedback_training, read_feedback

from ..guards.limits import ServerLimits
from ..i18n import text
from .runs import new_run_path, prune_runs, runs_dir
from .worker import StopFlag, TrainingProcess
from .zerogpu import ZERO_GPU, train_on_gpu

UPDATE_SECONDS = 0.5        # at most this often a snapshot goes to the browser (plus one per epoch)
POINTS_PER_EPOCH = 25       # train-loss points per epoch; each is the mean of the steps it covers


class RunInProgress(RuntimeError):
    """Another run holds the server's training slot; `running` is its snapshot, when it has one."""

    def __init__(self, running: "Snapshot | None") -> None:
        self.running = running
        super().__init__(busy_text("en", running))


def busy_text(lang: str, running: "Snapshot | None") -> str:
    status = running.status(lang) if running is not None else "..."
    return text(lang, "err.busy", status=status)


@dataclass
class Snapshot:
    """Everything known about one run so far: what the Train tab shows and /train streams."""
    config: TrainConfig
    started: float = field(default_factory=time.perf_counter)
    phase: str = "loading"      # loading, feedback, preparing, training, stopping, stopped, finished (phase.*)
    limit_s: float | None = None    # the server's time limit, once the run has been stopped by it
    step: int = 0
    total_steps: int = 0
    steps: list[dict] = field(default_factory=list)     # {"epoch": fractional epoch, "loss": mean loss}
    epochs: list[dict] = field(default_factory=list)    # the engine's per-epoch records
    probe: list[dict] = field(default_factory=list)     # {"epoch", "probabilities"}: the visitor's drawing, read
    first_layer: np.ndarray | None = None               # (hidden[0], 784) first-layer weights, last epoch
    has_probe: bool = False                             # the run follows a drawing
    done: DoneEvent | None = None
    drawn: dict = field(default_factory=dict)           # a driver's pictures of this snapshot, kept between sends

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def fraction(self) -> float:
        """How much of the run is done: where a stopped run stopped, not a full bar."""
        if self.done is not None and not self.done.stopped:
            return 1.0
        return self.step / self.total_steps if self.total_steps else 0.0

    def status(self, lang: str = "en") -> str:
        """One line in `lang`: phase, epoch, last valid accuracy, elapsed time."""
        phase = text(lang, f"phase.{self.phase}")
        if self.limit_s is not None:
            phase = text(lang, "phase.limit", phase=phase, seconds=self.limit_s)
        parts = [phase]
        if self.total_steps:
            epoch = self.steps[-1]["epoch"] if self.steps else 0.0
            parts.append(text(lang, "status.epoch", epoch=min(math.ceil(epoch), self.config.epochs) or 1,
                              epochs=self.config.epochs))
        if self.epochs:
            parts.append(text(lang, "status.valid", acc=self.epochs[-1]["valid_acc"]))
        parts.append(text(lang, "status.seconds", s=self.elapsed))
        return " · ".join(parts)


class TrainingSlot:
    """The server's one training run: who owns it, its stop switch, and the MNIST splits it reuses."""

    def __init__(self, process: TrainingProcess | None = None) -> None:
        self._lock = threading.Lock()
        self._data_lock = threading.Lock()
        self._data: tuple[tuple[int, int], MnistSplits] | None = None
        self.owner: str | None = None
        self.stop: StopFlag | None = None
        self.current: Snapshot | None = None
        self.process = process or TrainingProcess()

    @contextmanager
    def claim(self, owner: str) -> Iterator[StopFlag]:
        """Hold the slot for `owner`, or raise RunInProgress at once."""
        if not self._lock.acquire(blocking=False):
            raise RunInProgress(self.current)
        try:
            runs_dir().mkdir(parents=True, exist_ok=True)
            self.owner, self.stop = owner, StopFlag(runs_dir() / f".stop-{secrets.token_hex(8)}")
            yield self.stop
        finally:
            self.stop.path.unlink(missing_ok=True)
            self.owner, self.current = None, None
            self._lock.release()

    def request_stop(self, owner: str) -> bool:
        """Stop the run if `owner` started it; True when a stop was requested."""
        if self.owner is not None and self.owner == owner and self.stop is not None:
            self.stop.set()
            return True
        return False

    def warm(self, config: TrainConfig) -> None:
        """Read MNIST, start the training process and have it draw `config`'s style copies, so that the
        first run of `config` starts training at once. Run in the background when the server launches."""
        self.process.prepare(config, self.data(config.valid_size, config.seed))

    def close(self) -> None:
        """End the training process (it starts again at the next run)."""
        self.process.close()

    def data(self, valid_size: int, seed: int) -> MnistSplits:
        """MNIST split for this config, read on first use (never at import) and kept for the next run."""
        with self._data_lock:
            if self._data is None or self._data[0] != (valid_size, seed):
                self._data = ((valid_size, seed), load_mnist(valid_size=valid_size, seed=seed))
            return self._data[1]


def run_training(slot: TrainingSlot, config: TrainConfig, owner: str,
                 feedback: Path | None = None, probe: np.ndarray | None = None) -> Iterator[Snapshot]:
    """Train `config` in `slot` and yield snapshots: at start, every UPDATE_SECONDS, every epoch, at the end.
    `feedback`: a feedback folder whose drawings are added to the training digits (FeedbackError when
    it cannot be read). `probe`, a uint8 (28, 28) digit (the visitor's drawing through
    mnist_model.to_mnist), is read by the network after every epoch.
    Before any training, raises ValueError for a bad config, RunInProgress when the slot is taken and
    OverServerLimit for a run over the server's limits (counted on the data it would train on, which
    the slot reads once and keeps). A run still going after limits.max_seconds is stopped and saved."""
    config.validate()
    limits = ServerLimits.from_env()
    with slot.claim(owner) as stop:
        snap = Snapshot(config, has_probe=probe is not None)
        slot.current = snap
        yield snap
        data = slot.data(config.valid_size, config.seed)
        if feedback is not None:
            snap.phase = "feedback"
            yield snap
            data = data.with_extra_training(*feedback_training(read_feedback(feedback)))
        limits.check(config, data)
        out = new_run_path()
        # In a process of its own, so that training and request handlers share no interpreter lock; on
        # ZeroGPU, spaces.GPU already runs train_on_gpu in a worker process, so not a second one there.
        events = (train_on_gpu if ZERO_GPU else slot.process.run)(config, out, data, stop, probe)
        # Until its first event the run waits for the training process (started, or still drawing the
        # style copies, on a server that has just started).
        snap.phase = "preparing"
        last, pending, pending_sum = time.perf_counter(), 0, 0.0
        try:
            yield snap
            for event in events:
                if snap.phase == "preparing":
                    snap.phase = "training"
                if snap.elapsed > limits.max_seconds and not stop.is_set():
                    stop.set()
                    snap.phase, snap.limit_s = "stopping", limits.max_seconds
                if isinstance(event, StepEvent):
                    snap.step, snap.total_steps = event.step, event.total_steps
                    per_point = max(1, round(event.total_steps / config.epochs / POINTS_PER_EPOCH))
                    pending, pending_sum = pending + 1, pending_sum + event.loss
                    if pending == per_point:
                        snap.steps.append({"epoch": event.epoch, "loss": pending_sum / pending})
                        pending, pending_sum = 0, 0.0
                    if time.perf_counter() - last < UPDATE_SECONDS:
                        continue
                elif isinstance(event, EpochEvent):
                    snap.epochs.append(event.record())
                    snap.first_layer = event.first_layer
                    if event.probe is not None:
                        snap.probe.append({"epoch": event.epoch, "probabilities": event.probe})
                elif isinstance(event, DoneEvent):
                    snap.done = event
                    if event.first_layer is not None:      # the saved weights, also after a Stop in epoch 1
                        snap.first_layer = event.first_layer
                    snap.phase = "stopped" if event.stopped else "finished"
                if stop.is_set() and snap.done is None:
                    snap.phase = "stopping"
                last = time.perf_counter()
                yield snap
        finally:
            events.close()   # a closed driver (cancelled call, closed tab) still ends the run and saves
            if runs_dir().is_dir():
                prune_runs(limits, keep=out)
