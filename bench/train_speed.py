"""Training speed, three ways over the same MNIST split, in one process (batch 128, no augmentation):

  (a) one epoch of the project's engine (train.train), timed from its own EpochEvent
  (b) a bare forward/backward/Adam loop over the same in-memory tensors: the floor
  (c) the classic pytorch/examples pipeline: DataLoader + ToTensor + Normalize, per-sample PIL

Goals: (a)/(b) <= 1.3 (the engine adds almost nothing) and (c)/(a) >= 10 (the data path is cheap).
Then a full default training run (TrainConfig()) reports when valid accuracy first reaches 98%.

    MNIST_ROOT=../shared/mnist python -m bench.train_speed
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from mnist_model import MLP
from train import EpochEvent, TrainConfig, load_mnist, train
from train.data import data_root

BATCH = 128


def engine_epoch(data, out: Path) -> float:
    config = TrainConfig(epochs=1, batch_size=BATCH, augment=False, styles=0.0)   # the same 55,000 digits as (b)
    return next(e.seconds for e in train(config, out, data=data) if isinstance(e, EpochEvent))


def bare_epoch(data) -> float:
    x = data.train_x.float().div(255).sub(0.1307).div(0.3081).unsqueeze(1)
    y = data.train_y
    model, loss_fn = MLP(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    started = time.perf_counter()
    for idx in torch.randperm(len(x)).split(BATCH):
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - started


def dataloader_epoch() -> float:
    from torchvision import datasets, transforms
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    loader = torch.utils.data.DataLoader(datasets.MNIST(data_root(), train=True, transform=tf),
                                         batch_size=BATCH, shuffle=True)
    model, loss_fn = MLP(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    started = time.perf_counter()
    for x, y in loader:
        loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="(a) and (b) are timed this often; best kept")
    parser.add_argument("--skip-full", action="store_true", help="skip the full default training run")
    args = parser.parse_args()
    data = load_mnist()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}, "
          f"{len(data.train_x)} training digits")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.safetensors"
        a = min(engine_epoch(data, out) for _ in range(args.repeats))
        b = min(bare_epoch(data) for _ in range(args.repeats))
        c = dataloader_epoch()
        print(f"(a) engine epoch        {a:6.2f} s")
        print(f"(b) bare loop epoch     {b:6.2f} s")
        print(f"(c) DataLoader epoch    {c:6.2f} s")
        print(f"(a)/(b) = {a / b:.2f}  (goal <= 1.3)    (c)/(a) = {c / a:.1f}  (goal >= 10)")
        if args.skip_full:
            return
        started, reached = time.perf_counter(), None
        for event in train(TrainConfig(), out, data=data):
            if isinstance(event, EpochEvent):
                if reached is None and event.valid_acc >= 0.98:
                    reached = (event.epoch, time.perf_counter() - started)
            else:
                final = event
        total = time.perf_counter() - started
        print(f"full default run ({TrainConfig().epochs} epochs, augmentation on): {total:.1f} s, "
              f"test accuracy {final.test_acc:.2%}")
        print("98% valid accuracy first reached: " +
              (f"epoch {reached[0]} after {reached[1]:.1f} s" if reached else "never"))


if __name__ == "__main__":
    main()
