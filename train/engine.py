"""The one training loop. It yields events and never prints, plots or knows about its driver:
the CLI turns events into a tqdm bar, the app into live plots, tests into assertions.

    for event in train(TrainConfig(epochs=3), out="runs/a/model.safetensors"):
        ...   # StepEvent per step, EpochEvent per epoch, DoneEvent last

Stop early with `stop.set()` (from any thread; any object with is_set() will do, such as a flag that
crosses process boundaries) or by closing the generator: training ends after
the current step and the best weights so far are still saved."""
from __future__ import annotations

import copy
import math
import os
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from mnist_model import MLP, SIDE, save_checkpoint

from .augment import augment
from .cache import kept_style_variants
from .config import SGD_MOMENTUM, TrainConfig
from .data import MnistSplits, load_mnist
from .events import MISREAD_KEPT, DoneEvent, EpochEvent, Event, Misread, StepEvent, StopSignal
from .styles import style_variants, styled_count


def planned_steps(config: TrainConfig, data: MnistSplits) -> int:
    """Optimiser steps `train(config, data=data)` takes: its training digits plus the style copies it adds."""
    digits = len(data.train_y)
    if config.styles > 0 and "styles" not in data.extra:
        digits += styled_count(data.train_y[:data.mnist_train], config.styles)
    return config.epochs * math.ceil(digits / config.batch_size)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available")
    return torch.device(name)


def with_styles(config: TrainConfig, data: MnistSplits, cache: Path | None = None) -> MnistSplits:
    """`data` plus the style copies a run of `config` trains on (slashed zeros, flagged ones, crossed
    sevens: see train/styles.py), unless it already carries them: a caller that trains several runs on
    the same splits (the app's training process) draws them once and passes the result to train().
    With `cache` (a folder), they are kept there and read back by the next process (train.cache)."""
    if config.styles <= 0 or "styles" in data.extra:
        return data
    # Drawn on MNIST's digits only: real pen digits added before (train.cli --pen-digits) keep the
    # strokes their writers gave them, rather than gaining a second flag or slash.
    n = data.mnist_train
    draw = style_variants if cache is None else partial(kept_style_variants, cache)
    return data.with_extra_training(*draw(data.train_x[:n], data.train_y[:n], config.styles, config.seed))


def train(config: TrainConfig, out: str | os.PathLike, data: MnistSplits | None = None,
          data_dir: str | os.PathLike | None = None, stop: StopSignal | None = None,
          probe: np.ndarray | None = None) -> Iterator[Event]:
    """Check everything up front (raising ValueError before any work), then return the event generator.
    `data` defaults to MNIST read from `data_dir` (see train.data.data_root). `probe`, a uint8 (28, 28)
    digit as mnist_model.to_mnist makes it (such as a visitor's drawing), is read by the network after
    every epoch and its probabilities reported in each EpochEvent."""
    config.validate()
    device = resolve_device(config.device)
    if probe is not None and (not isinstance(probe, np.ndarray) or probe.shape != (SIDE, SIDE)):
        raise ValueError(f"probe must be a ({SIDE}, {SIDE}) image, got {getattr(probe, 'shape', type(probe).__name__)}")
    return _run(config, Path(out), data, data_dir, stop or threading.Event(), device, probe)


@dataclass
class _Splits:
    """The splits on the device as float tensors in [0, 1], (N, 1, 28, 28), so that batches are index
    lookups, and the normalisation computed from the training digits."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    valid_x: torch.Tensor
    valid_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    test_images: torch.Tensor     # uint8 (N, 28, 28) on the CPU: what a Misread shows
    mean: float
    std: float

    @classmethod
    def of(cls, data: MnistSplits, device: torch.device) -> "_Splits":
        def images(t: torch.Tensor) -> torch.Tensor:
            return t.to(device, torch.float32).div_(255).unsqueeze_(1)
        train_x = images(data.train_x)      # mean and std read from it: no second float copy of the digits
        return cls(train_x, data.train_y.to(device), images(data.valid_x), data.valid_y.to(device),
                   images(data.test_x), data.test_y.to(device), data.test_x,
                   float(train_x.mean()), float(train_x.std()))

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


@dataclass
class _Progress:
    """What the loop has done so far, which the end of the run (tested and saved) reads."""
    total: int                    # optimiser steps planned
    step: int = 0
    message: str = ""             # why the run ended early, when it did
    stopped: bool = False
    history: list[dict] = field(default_factory=list)
    best: tuple[float, float, dict] | None = None    # (valid_acc, -valid_loss, state_dict)

    def consider(self, model: MLP, valid_loss: float, valid_acc: float) -> None:
        """Keep the model's weights if they are the best so far (valid accuracy, then valid loss)."""
        if math.isfinite(valid_loss) and (self.best is None or (valid_acc, -valid_loss) > self.best[:2]):
            self.best = (valid_acc, -valid_loss, copy.deepcopy(model.state_dict()))


def _logits(model: MLP, x: torch.Tensor, s: _Splits) -> torch.Tensor:
    """The model's logits for images in [0, 1], in eval mode and without gradients; leaves it training."""
    model.eval()
    with torch.no_grad():
        logits = model(s.normalise(x))
    model.train()
    return logits


def evaluate(model: MLP, x: torch.Tensor, y: torch.Tensor, s: _Splits) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) on the digits x with labels y."""
    logits = _logits(model, x, s)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def read_probe(model: MLP, probe: np.ndarray | None, s: _Splits) -> list[float] | None:
    """The probe digit's ten probabilities, or None without a probe."""
    if probe is None:
        return None
    x = torch.from_numpy(probe).to(s.test_x.device, torch.float32).div(255).view(1, 1, SIDE, SIDE)
    return torch.softmax(_logits(model, x, s), 1)[0].tolist()


def test(model: MLP, s: _Splits) -> tuple[float, list[list[int]], list[Misread]]:
    """Test accuracy, confusion matrix and the most confidently misread digits, in one pass."""
    p = torch.softmax(_logits(model, s.test_x, s), 1)           # (10000, 10)
    confidence, predicted = p.max(1)
    confusion = torch.bincount(s.test_y * 10 + predicted, minlength=100).view(10, 10)
    wrong = torch.nonzero(predicted != s.test_y).flatten()
    worst = wrong[confidence[wrong].argsort(descending=True)[:MISREAD_KEPT]].tolist()
    misread = [Misread(i, int(s.test_y[i]), int(predicted[i]), float(confidence[i]), s.test_images[i].numpy())
               for i in worst]
    return float((predicted == s.test_y).float().mean()), confusion.tolist(), misread


def first_layer(model: MLP) -> np.ndarray:
    """(hidden[0], 784) float32: a copy of the weights into each first-layer unit."""
    return model.layers[0].weight.detach().cpu().numpy().copy()


def finish(model: MLP, s: _Splits, cfg: TrainConfig, run: _Progress, out: Path, extra: dict) -> DoneEvent:
    """Test the best weights and save them to `out`; the run's last event."""
    if run.best is None:
        return DoneEvent(None, None, run.stopped, run.message or "no weights worth saving", run.history)
    model.load_state_dict(run.best[2])
    test_acc, confusion, misread = test(model, s)
    weights = first_layer(model)
    try:
        save_checkpoint(out, model.cpu(), {"mean": s.mean, "std": s.std, "train_config": cfg.to_dict(),
                                           "history": run.history, "test_accuracy": test_acc,
                                           "data": {"train_digits": len(s.train_x), **extra},
                                           "valid_accuracy": run.best[0], "stopped": run.stopped})
    except OSError as e:    # disk full, read-only folder...: the previous file at `out` is untouched
        return DoneEvent(None, test_acc, run.stopped, f"could not save the model to {out}: {e.strerror or e}; "
                         "any earlier file there is unchanged", run.history, confusion, misread, weights)
    summary = f"test accuracy {test_acc:.2%}"
    return DoneEvent(out, test_acc, run.stopped, f"{run.message}; {summary}" if run.message else summary,
                     run.history, confusion, misread, weights)


def optimiser(cfg: TrainConfig, model: MLP) -> torch.optim.Optimizer:
    """Adam, or SGD with momentum, over the model's parameters. fused: one kernel updates all the
    tensors, where this small MLP's step time is mostly per-tensor overhead (docs/results.md: Training speed)."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=SGD_MOMENTUM, fused=True)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)


def _run(cfg: TrainConfig, out: Path, data: MnistSplits | None, data_dir, stop: StopSignal,
         device: torch.device, probe: np.ndarray | None) -> Iterator[Event]:
    data = with_styles(cfg, data or load_mnist(data_dir, cfg.valid_size, cfg.seed))
    s = _Splits.of(data, device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)                               # weight init, without touching global RNG
        model = MLP(cfg.model_config()).to(device)
    run = _Progress(total=cfg.epochs * math.ceil(len(s.train_x) / cfg.batch_size))
    try:
        yield from _epochs(cfg, model, s, stop, probe, run)
    except GeneratorExit:             # the driver closed us: keep the best weights, yield nothing more
        run.stopped = True
        if run.step > 0:
            run.consider(model, *evaluate(model, s.valid_x, s.valid_y, s))
        finish(model, s, cfg, run, out, data.extra)
        raise
    run.stopped = stop.is_set() and run.step < run.total
    if run.stopped and not run.message:
        if run.step == 0:             # untrained weights are not a model anyone wants saved
            run.message = "stopped before the first step; nothing saved"
        else:                         # stopped mid-run: the current weights may be the best so far
            run.consider(model, *evaluate(model, s.valid_x, s.valid_y, s))
            run.message = f"stopped after step {run.step} of {run.total}; best weights kept"
    yield finish(model, s, cfg, run, out, data.extra)


def _epochs(cfg: TrainConfig, model: MLP, s: _Splits, stop: StopSignal, probe: np.ndarray | None,
            run: _Progress) -> Iterator[Event]:
    """The loop: a StepEvent per step and an EpochEvent per epoch, until the last epoch, a stop request
    (before any step) or a loss that is not finite (`run.message` says so)."""
    gen = torch.Generator(device=s.train_x.device).manual_seed(cfg.seed)   # shuffling and augmentation
    opt = optimiser(cfg, model)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=cfg.lr_factor,
                                                       patience=cfg.lr_patience)
    steps_per_epoch = math.ceil(len(s.train_x) / cfg.batch_size)
    n_aug = round(cfg.batch_size * cfg.augment_share)
    model.train()
    for epoch in range(1, cfg.epochs + 1):
        started, loss_sum, n_batches = time.perf_counter(), 0.0, 0
        order = torch.randperm(len(s.train_x), generator=gen, device=gen.device)
        for i in range(0, len(order), cfg.batch_size):
            if stop.is_set():
                return
            idx = order[i:i + cfg.batch_size]
            x = s.train_x[idx]                                  # (B, 1, 28, 28)
            if cfg.augment and n_aug:                           # the order is random: so are these
                x[:n_aug] = augment(x[:n_aug], gen)
            loss = F.cross_entropy(model(s.normalise(x)), s.train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run.step += 1
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                run.message = (f"training diverged (loss became {loss_value}) at step {run.step}; "
                               f"try a smaller learning rate than {cfg.lr:g}")
                return
            loss_sum, n_batches = loss_sum + loss_value, n_batches + 1
            yield StepEvent(run.step, run.total, epoch - 1 + n_batches / steps_per_epoch, loss_value,
                            opt.param_groups[0]["lr"])
        valid_loss, valid_acc = evaluate(model, s.valid_x, s.valid_y, s)
        sched.step(valid_loss)
        record = {"epoch": epoch, "train_loss": loss_sum / n_batches, "valid_loss": valid_loss,
                  "valid_acc": valid_acc, "lr": opt.param_groups[0]["lr"], "seconds": time.perf_counter() - started}
        run.history.append(record)
        run.consider(model, valid_loss, valid_acc)
        yield EpochEvent(**record, first_layer=first_layer(model), probe=read_probe(model, probe, s))
