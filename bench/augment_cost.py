"""What augmentation adds to a training step of the Train tab's batch size, on as many torch threads
as the app's training process uses on a quiet server (TRAINING_THREADS): (a) a bare step (forward,
backward, Adam), (b) a step with the whole batch augmented by train.augment, (c) the same with the
augmentation written with F.affine_grid and F.max_pool2d (harness/reference_augment.py, as
train.augment first was), (d) a step with the Train tab's share of the batch augmented. Goal: (b)/(a) < 3.

    MNIST_ROOT=../shared/mnist python -m bench.augment_cost
"""
from __future__ import annotations

import time

import torch
from torch import nn

from harness.reference_augment import reference_augment
from mnist_model import MLP
from train import load_mnist
from train.augment import augment
from webapp.guards.limits import TRAINING_THREADS
from webapp.training.form import TRAIN_TAB

STEPS = 60


def step_ms(x: torch.Tensor, y: torch.Tensor, warp, share: float) -> float:
    """Median milliseconds of a step over STEPS batches, `share` of each batch warped by `warp`."""
    model, loss_fn, gen = MLP(), nn.CrossEntropyLoss(), torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3, fused=True)
    b, k = TRAIN_TAB.batch_size, round(TRAIN_TAB.batch_size * share)
    times = []
    for i in range(STEPS + 5):
        started = time.perf_counter()
        xb = x[i * b:(i + 1) * b].clone()
        if warp is not None and k:
            xb[:k] = warp(xb[:k], gen)
        loss = loss_fn(model(xb), y[i * b:(i + 1) * b])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - started)
    return sorted(times[5:])[STEPS // 2] * 1000


def main() -> None:
    torch.set_num_threads(TRAINING_THREADS)
    data = load_mnist()
    x, y = data.train_x[:(STEPS + 5) * TRAIN_TAB.batch_size].float().div(255).unsqueeze(1), data.train_y
    a = step_ms(x, y, None, 0)
    b = step_ms(x, y, augment, 1.0)
    c = step_ms(x, y, reference_augment, 1.0)
    d = step_ms(x, y, augment, TRAIN_TAB.augment_share)
    print(f"batch {TRAIN_TAB.batch_size}, {torch.get_num_threads()} thread(s), median of {STEPS} steps")
    print(f"(a) bare step                          {a:6.2f} ms")
    print(f"(b) whole batch augmented               {b:6.2f} ms  ({b / a:.2f}x (a); goal < 3)")
    print(f"(c) whole batch, affine_grid/max_pool  {c:6.2f} ms  ({c / a:.2f}x (a))")
    print(f"(d) {TRAIN_TAB.augment_share:.0%} of the batch augmented (Train tab)  {d:6.2f} ms  ({d / a:.2f}x (a))")


if __name__ == "__main__":
    main()
