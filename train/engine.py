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
from typing import Iterator, Protocol

import numpy as np
import torch
from torch import nn

from mnist_model import MLP, ModelConfig, save_checkpoint

from .augment import augment
from .cache import kept_style_variants
from .config import TrainConfig
from .data import MnistSplits, load_mnist
from .styles import style_variants, styled_count


@dataclass
class StepEvent:
    step: int            # 1-based, counted over the whole run
    total_steps: int
    epoch: float         # fractional: 1.5 = half-way through the second epoch
    loss: float          # this batch's training loss
    lr: float


@dataclass
class EpochEvent:
    epoch: int
    train_loss: float    # mean over the epoch's batches
    valid_loss: float
    valid_acc: float     # fraction in [0, 1]
    lr: float            # after the scheduler's step
    seconds: float
    first_layer: np.ndarray | None = None   # (200, 784) float32: the weights into each first-layer unit
    probe: list[float] | None = None         # the probe digit's ten probabilities, when train() got one

    def record(self) -> dict:
        """The epoch's numbers, as kept in the run's history (without weights or probe)."""
        return {k: v for k, v in vars(self).items() if k not in ("first_layer", "probe")}


@dataclass
class Misread:
    """A test digit the final model gets wrong."""
    index: int           # into MNIST's 10,000 test digits
    label: int
    predicted: int
    confidence: float    # the model's probability for `predicted`
    image: np.ndarray    # uint8 (28, 28), white on black, as in MNIST


@dataclass
class DoneEvent:
    checkpoint: Path | None   # None when no usable weights exist (stopped or diverged before any)
    test_acc: float | None
    stopped: bool             # ended by a stop request
    message: str              # one line for a person
    history: list[dict] = field(default_factory=list)
    confusion: list[list[int]] | None = None   # [true][predicted] counts over the test digits, best weights
    misread: list[Misread] = field(default_factory=list)   # the most confidently wrong test digits, worst first
    first_layer: np.ndarray | None = None      # (200, 784): the saved (best) weights' first layer


Event = StepEvent | EpochEvent | DoneEvent
MISREAD_KEPT = 24      # misread test digits a DoneEvent carries


class StopSignal(Protocol):
    """What the engine polls before each step: a threading.Event, or anything else with is_set()."""
    def is_set(self) -> bool: ...


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
    if probe is not None and (not isinstance(probe, np.ndarray) or probe.shape != (28, 28)):
        raise ValueError(f"probe must be a (28, 28) image, got {getattr(probe, 'shape', type(probe).__name__)}")
    return _run(config, Path(out), data, data_dir, stop or threading.Event(), device, probe)


def _run(cfg: TrainConfig, out: Path, data: MnistSplits | None, data_dir, stop: StopSignal,
         device: torch.device, probe: np.ndarray | None) -> Iterator[Event]:
    data = with_styles(cfg, data or load_mnist(data_dir, cfg.valid_size, cfg.seed))
    mean = float(data.train_x.float().mean() / 255)
    std = float(data.train_x.float().std() / 255)
    # Whole splits as float tensors on the device, [0, 1], (N, 1, 28, 28): batches are index lookups.
    train_x, valid_x, test_x = (t.to(device, torch.float32).div_(255).unsqueeze_(1)
                                for t in (data.train_x, data.valid_x, data.test_x))
    train_y, valid_y, test_y = (t.to(device) for t in (data.train_y, data.valid_y, data.test_y))

    gen = torch.Generator(device=device).manual_seed(cfg.seed)   # shuffling and augmentation
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(cfg.seed)                               # weight init, without touching global RNG
        model = MLP(ModelConfig()).to(device)
    loss_fn = nn.CrossEntropyLoss()
    # fused: one kernel updates all ten tensors, where this small MLP's step time is mostly
    # per-tensor overhead (docs/results.md: Training speed).
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=cfg.lr_factor,
                                                       patience=cfg.lr_patience)

    def evaluate(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        model.eval()
        with torch.no_grad():
            logits = model((x - mean) / std)
            loss, acc = loss_fn(logits, y).item(), (logits.argmax(1) == y).float().mean().item()
        model.train()
        return loss, acc

    def read_probe() -> list[float] | None:
        if probe is None:
            return None
        x = torch.from_numpy(probe).to(device, torch.float32).div(255).view(1, 1, 28, 28)
        model.eval()
        with torch.no_grad():
            p = torch.softmax(model((x - mean) / std), 1)[0]
        model.train()
        return p.tolist()

    def test() -> tuple[float, list[list[int]], list[Misread]]:
        """Test accuracy, confusion matrix and the most confidently misread digits, in one pass."""
        model.eval()
        with torch.no_grad():
            p = torch.softmax(model((test_x - mean) / std), 1)       # (10000, 10)
        confidence, predicted = p.max(1)
        confusion = torch.bincount(test_y * 10 + predicted, minlength=100).view(10, 10)
        wrong = torch.nonzero(predicted != test_y).flatten()
        worst = wrong[confidence[wrong].argsort(descending=True)[:MISREAD_KEPT]].tolist()
        misread = [Misread(i, int(test_y[i]), int(predicted[i]), float(confidence[i]), data.test_x[i].numpy())
                   for i in worst]
        return float((predicted == test_y).float().mean()), confusion.tolist(), misread

    steps_per_epoch = math.ceil(len(train_x) / cfg.batch_size)
    n_aug = round(cfg.batch_size * cfg.augment_share)
    total = cfg.epochs * steps_per_epoch
    history: list[dict] = []
    best: tuple[float, float, dict] | None = None    # (valid_acc, -valid_loss, state_dict)
    step, stopped, message = 0, False, ""

    def consider(valid_loss: float, valid_acc: float) -> None:
        nonlocal best
        if math.isfinite(valid_loss) and (best is None or (valid_acc, -valid_loss) > best[:2]):
            best = (valid_acc, -valid_loss, copy.deepcopy(model.state_dict()))

    def finish() -> DoneEvent:
        if best is None:
            return DoneEvent(None, None, stopped, message or "no weights worth saving", history)
        model.load_state_dict(best[2])
        test_acc, confusion, misread = test()
        first_layer = model.layers[0].weight.detach().cpu().numpy().copy()
        try:
            save_checkpoint(out, model.cpu(), {"mean": mean, "std": std, "train_config": cfg.to_dict(),
                                               "history": history, "test_accuracy": test_acc,
                                               "data": {"train_digits": len(train_x), **data.extra},
                                               "valid_accuracy": best[0], "stopped": stopped})
        except OSError as e:    # disk full, read-only folder...: the previous file at `out` is untouched
            return DoneEvent(None, test_acc, stopped, f"could not save the model to {out}: {e.strerror or e}; "
                             "any earlier file there is unchanged", history, confusion, misread, first_layer)
        summary = f"test accuracy {test_acc:.2%}"
        return DoneEvent(out, test_acc, stopped, f"{message}; {summary}" if message else summary, history,
                         confusion, misread, first_layer)

    def epochs() -> Iterator[Event]:
        nonlocal step, message
        for epoch in range(1, cfg.epochs + 1):
            started, loss_sum, n_batches = time.perf_counter(), 0.0, 0
            order = torch.randperm(len(train_x), generator=gen, device=device)
            for i in range(0, len(order), cfg.batch_size):
                if stop.is_set():
                    return
                idx = order[i:i + cfg.batch_size]
                x = train_x[idx]                                    # (B, 1, 28, 28)
                if cfg.augment and n_aug:                           # the order is random: so are these
                    x[:n_aug] = augment(x[:n_aug], gen)
                loss = loss_fn(model((x - mean) / std), train_y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    message = (f"training diverged (loss became {loss_value}) at step {step}; "
                               f"try a smaller learning rate than {cfg.lr:g}")
                    return
                loss_sum, n_batches = loss_sum + loss_value, n_batches + 1
                yield StepEvent(step, total, epoch - 1 + n_batches / steps_per_epoch, loss_value,
                                opt.param_groups[0]["lr"])
            valid_loss, valid_acc = evaluate(valid_x, valid_y)
            sched.step(valid_loss)
            record = {"epoch": epoch, "train_loss": loss_sum / n_batches, "valid_loss": valid_loss,
                      "valid_acc": valid_acc, "lr": opt.param_groups[0]["lr"],
                      "seconds": time.perf_counter() - started}
            history.append(record)
            consider(valid_loss, valid_acc)
            yield EpochEvent(**record, first_layer=model.layers[0].weight.detach().cpu().numpy().copy(),
                             probe=read_probe())

    model.train()
    try:
        yield from epochs()
    except GeneratorExit:             # the driver closed us: keep the best weights, yield nothing more
        stopped = True
        if step > 0:
            consider(*evaluate(valid_x, valid_y))
        finish()
        raise
    stopped = stop.is_set() and step < total
    if stopped and not message:
        if step == 0:                 # untrained weights are not a model anyone wants saved
            message = "stopped before the first step; nothing saved"
        else:                         # stopped mid-run: the current weights may be the best so far
            consider(*evaluate(valid_x, valid_y))
            message = f"stopped after step {step} of {total}; best weights kept"
    yield finish()
