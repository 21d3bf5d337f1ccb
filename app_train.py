"""Training from the app: one run at a time per server, driven through the engine's generator
(`train.train`, the same loop as the CLI), turned into snapshots the Train tab can plot.

The engine runs in a child process of its own (app_worker.train_in_child): in a thread of the server
it shared the interpreter lock with every request handler, and 8 busy callers made an epoch 6.5x
slower; in the child 1.2x, or 1.4-1.8x where Linux does not share CPU time out by session
(bench/serve_load.py; README: Serving under load). Each run pays ~4.5 s to start that process.
On a ZeroGPU Space, spaces.GPU already runs train_on_gpu in a worker process, which is used
instead of a second one.

The server's single slot is a non-blocking lock: a second visitor is told a run is in progress
instead of waiting behind it. The slot is released when the driving generator ends, is closed
(Stop, a cancelled API call, a closed tab) or is garbage-collected, or the training process dies."""
from __future__ import annotations

import math
import os
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterator

import pandas as pd
import spaces

from app_models import runs_dir
from app_worker import train_in_child
from train import DoneEvent, EpochEvent, MnistSplits, StepEvent, TrainConfig, load_mnist, train
from train.engine import Event, StopSignal

UPDATE_SECONDS = 0.5        # at most this often a snapshot goes to the browser (plus one per epoch)
POINTS_PER_EPOCH = 25       # train-loss points per epoch; each is the mean of the steps it covers
MNIST_TRAIN_DIGITS = 60_000  # MNIST's training set, which a run splits into train and valid
STYLED_SHARE = 0.3155       # of those, the 0s, 1s and 7s (18,930): the digits that get style copies
STALE_TMP_SECONDS = 3600    # a save's temp file this old belongs to a process killed mid-write
GPU_BASE_SECONDS = 30       # ZeroGPU reservation: MNIST to the GPU, testing, saving...
GPU_STEP_SECONDS = 0.004    # ...plus this per optimiser step (a step of this MLP takes ~1-2 ms on a GPU)
ZERO_GPU = spaces.config.Config.zero_gpu   # on a ZeroGPU Space (SPACES_ZERO_GPU), where spaces.GPU wraps train_on_gpu


@dataclass(frozen=True)
class ServerLimits:
    """What one visitor's run may cost the server, from the environment (README: Limits on a public server)."""
    max_steps: int = 50_000     # TRAIN_MAX_STEPS: optimiser steps per run (the default config takes about 10,000)
    max_seconds: float = 900.0  # TRAIN_MAX_SECONDS: wall-clock time after which a run is stopped and saved
    keep_runs: int = 20         # RUNS_KEEP: runs trained here kept on disk, newest first (~1 MB each)
    max_runs_mb: float = 100.0  # RUNS_MAX_MB: their total size in MB; the oldest are deleted first

    @classmethod
    def from_env(cls) -> "ServerLimits":
        """Defaults overridden by the variables named above; ValueError names a malformed one."""
        values = {}
        for f, var in zip(fields(cls), ("TRAIN_MAX_STEPS", "TRAIN_MAX_SECONDS", "RUNS_KEEP", "RUNS_MAX_MB")):
            text = os.environ.get(var, "").strip()
            if text:
                try:
                    values[f.name] = int(text) if f.type in ("int", int) else float(text)
                except ValueError:
                    raise ValueError(f"{var} must be a number, got {text!r}") from None
        return cls(**values)

    def check(self, config: TrainConfig) -> None:
        """Refuse, before any work, a run that would hold the server's one slot too long."""
        steps = planned_steps(config, MNIST_TRAIN_DIGITS - config.valid_size)
        if steps > self.max_steps:
            raise ValueError(f"{config.epochs} epochs at batch size {config.batch_size} is {steps:,} steps; this "
                             f"server allows {self.max_steps:,} per run. Use fewer epochs or a larger batch size.")


def planned_steps(config: TrainConfig, train_digits: int) -> int:
    """Optimiser steps `config` takes on `train_digits` MNIST digits, counting the style copies the
    engine adds (train/styles.py) to the STYLED_SHARE of them that are 0s, 1s and 7s."""
    digits = train_digits + math.floor(train_digits * STYLED_SHARE * config.styles)
    return config.epochs * math.ceil(digits / config.batch_size)


def training_allowed() -> bool:
    """False when ALLOW_TRAINING is 0/false/no/off: a read-only deployment that only predicts."""
    return os.environ.get("ALLOW_TRAINING", "1").strip().lower() not in {"0", "false", "no", "off"}


class StopFlag:
    """A stop switch that also crosses process boundaries: the engine runs in another process (the
    app's training process, or ZeroGPU's worker) that receives its arguments pickled, where a
    threading.Event would be a disconnected copy. set() creates a file; the engine polls is_set()
    once per step (one stat call, microseconds against a step's milliseconds)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self) -> None:
        self.path.touch()

    def is_set(self) -> bool:
        return self.path.exists()


def gpu_seconds(config: TrainConfig, out: Path, data: MnistSplits, stop: StopSignal) -> int:
    """ZeroGPU time to reserve for this run (same arguments as train_on_gpu): sized from its steps
    so a short run does not spend a visitor's daily GPU quota on a long reservation."""
    steps = planned_steps(config, len(data.train_x))
    return math.ceil(min(GPU_BASE_SECONDS + steps * GPU_STEP_SECONDS, ServerLimits.from_env().max_seconds))


@spaces.GPU(duration=gpu_seconds)
def train_on_gpu(config: TrainConfig, out: Path, data: MnistSplits, stop: StopSignal) -> Iterator[Event]:
    """The engine's run. On a ZeroGPU Space, a GPU is attached only while this generator runs and its
    events are pickled back as they come, so the plots still stream; elsewhere `spaces.GPU` returns
    this function unchanged and `device="auto"` picks a local GPU if there is one."""
    yield from train(config, out=out, data=data, stop=stop)


class RunInProgress(RuntimeError):
    """Another run holds the server's training slot."""


@dataclass
class Snapshot:
    """Everything the Train tab shows about one run, rebuilt into plots on each update."""
    config: TrainConfig
    started: float = field(default_factory=time.perf_counter)
    phase: str = "loading MNIST"
    step: int = 0
    total_steps: int = 0
    steps: list[dict] = field(default_factory=list)     # {"epoch": fractional epoch, "loss": mean loss}
    epochs: list[dict] = field(default_factory=list)    # the engine's per-epoch records
    done: DoneEvent | None = None

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def fraction(self) -> float:
        if self.done is not None:
            return 1.0
        return self.step / self.total_steps if self.total_steps else 0.0

    def status(self) -> str:
        """One line: phase, epoch, last valid accuracy, elapsed time."""
        parts = [self.phase]
        if self.total_steps:
            epoch = self.steps[-1]["epoch"] if self.steps else 0.0
            parts.append(f"epoch {min(math.ceil(epoch), self.config.epochs) or 1} of {self.config.epochs}")
        if self.epochs:
            parts.append(f"valid accuracy {self.epochs[-1]['valid_acc']:.2%}")
        parts.append(f"{self.elapsed:.0f} s")
        return " · ".join(parts)

    def train_loss_frame(self) -> pd.DataFrame:
        return _frame(self.steps, epoch=float, loss=float)

    def valid_loss_frame(self) -> pd.DataFrame:
        return _frame([{"epoch": r["epoch"], "valid_loss": r["valid_loss"]} for r in self.epochs],
                      epoch=float, valid_loss=float)

    def lr_frame(self) -> pd.DataFrame:
        """The learning rate each epoch trained with: the initial one, then the scheduler's after each epoch."""
        rows = [{"epoch": 0.0, "lr": self.config.lr}] + [{"epoch": r["epoch"], "lr": r["lr"]} for r in self.epochs]
        return _frame(rows, epoch=float, lr=float)


def _frame(rows: list[dict], **dtypes: type) -> pd.DataFrame:
    """Typed even when empty: a plot given an untyped empty frame draws its axes as categories for good.
    (No colour column either: Gradio 6 fixes a plot's colour domain at its first, empty, value.)"""
    return pd.DataFrame(rows, columns=list(dtypes)).astype(dtypes)


class TrainingSlot:
    """The server's one training run: who owns it, its stop switch, and the MNIST splits it reuses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data_lock = threading.Lock()
        self._data: tuple[tuple[int, int], MnistSplits] | None = None
        self.owner: str | None = None
        self.stop: StopFlag | None = None
        self.current: Snapshot | None = None

    @contextmanager
    def claim(self, owner: str) -> Iterator[StopFlag]:
        """Hold the slot for `owner`, or raise RunInProgress at once."""
        if not self._lock.acquire(blocking=False):
            running = self.current
            detail = f" ({running.status()})" if running is not None else ""
            raise RunInProgress(f"A training run is in progress{detail}. This server trains one model at a "
                                f"time; try again when it ends. Drawing and predicting keep working meanwhile.")
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

    def data(self, valid_size: int, seed: int) -> MnistSplits:
        """MNIST split for this config, read on first use (never at import) and kept for the next run."""
        with self._data_lock:
            if self._data is None or self._data[0] != (valid_size, seed):
                self._data = ((valid_size, seed), load_mnist(valid_size=valid_size, seed=seed))
            return self._data[1]


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
        if now - tmp.stat().st_mtime > STALE_TMP_SECONDS:
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


def run_training(slot: TrainingSlot, config: TrainConfig, owner: str) -> Iterator[Snapshot]:
    """Train `config` in `slot` and yield snapshots: at start, every UPDATE_SECONDS, every epoch, at the end.
    Raises ValueError for a bad config or one over the server's limits, and RunInProgress when the slot
    is taken, before any work. A run still going after limits.max_seconds is stopped and saved."""
    config.validate()
    limits = ServerLimits.from_env()
    limits.check(config)
    with slot.claim(owner) as stop:
        snap = Snapshot(config)
        slot.current = snap
        yield snap
        data = slot.data(config.valid_size, config.seed)
        out = new_run_path()
        # In a process of its own, so that training and request handlers share no interpreter lock; on
        # ZeroGPU, spaces.GPU already runs train_on_gpu in a worker process, so not a second one there.
        events = (train_on_gpu if ZERO_GPU else train_in_child)(config, out, data, stop)
        snap.phase = "training"
        last, pending, pending_sum, timed_out = time.perf_counter(), 0, 0.0, False
        try:
            for event in events:
                if snap.elapsed > limits.max_seconds and not stop.is_set():
                    stop.set()
                    timed_out = True
                    snap.phase = f"stopping at this server's limit of {limits.max_seconds:g} s per run"
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
                    snap.epochs.append(vars(event).copy())
                elif isinstance(event, DoneEvent):
                    snap.done = event
                    snap.phase = "stopped" if event.stopped else "finished"
                    if timed_out:
                        snap.phase += f" at this server's limit of {limits.max_seconds:g} s per run"
                if stop.is_set() and snap.done is None and not snap.phase.startswith("stopping"):
                    snap.phase = "stopping: testing and saving the best weights so far"
                last = time.perf_counter()
                yield snap
        finally:
            events.close()   # a closed driver (cancelled call, closed tab) still ends the run and saves
            if runs_dir().is_dir():
                prune_runs(limits, keep=out)
