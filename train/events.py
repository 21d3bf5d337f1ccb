"""What the training engine yields (StepEvent per step, EpochEvent per epoch, DoneEvent last) and what
it polls to stop early."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np


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
    first_layer: np.ndarray | None = None   # (hidden[0], 784) float32: the weights into each first-layer unit
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
    first_layer: np.ndarray | None = None      # (hidden[0], 784): the saved (best) weights' first layer


Event = StepEvent | EpochEvent | DoneEvent
MISREAD_KEPT = 24      # misread test digits a DoneEvent carries


class StopSignal(Protocol):
    """What the engine polls before each step: a threading.Event, or anything else with is_set()."""
    def is_set(self) -> bool: ...
