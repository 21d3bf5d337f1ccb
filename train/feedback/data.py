"""Feedback items as training digits, through the app's own preprocessing (`to_mnist`)."""
from __future__ import annotations

import numpy as np
import torch

from mnist_model import SIDE, ImageError, to_mnist

from .folder import FeedbackError, FeedbackItem


def feedback_training(items: list[FeedbackItem]) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(x uint8 (N, 28, 28), y int64 (N,), a note for the checkpoint) for `with_extra_training`. Each
    drawing is read once: the engine's batch augmentation varies it on every epoch, as it does MNIST."""
    xs = []
    for item in items:
        try:
            xs.append(to_mnist(item.path))
        except ImageError as e:
            raise FeedbackError(f"{item.path}: {e}") from None
    blank = [item.id for item, x in zip(items, xs) if not x.any()]
    if blank:
        raise FeedbackError(f"{len(blank)} feedback drawing(s) have no ink, e.g. {blank[0]}")
    x = torch.from_numpy(np.stack(xs)) if xs else torch.zeros((0, SIDE, SIDE), dtype=torch.uint8)
    y = torch.tensor([item.label for item in items], dtype=torch.int64)
    misread = sum(1 for item in items if item.record.get("predicted") not in (None, item.label))
    return x, y, {"feedback": {"items": len(items), "misread_by_the_app": misread}}
