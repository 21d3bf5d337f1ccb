"""What the Train tab's extra outputs cost an epoch: the same runs of the Train tab's defaults, (a) with
no drawing to follow and nothing drawn from the events, (b) following a drawing and drawing, in the
training thread itself, everything the server draws per epoch (the weight grid, encoded as the PNG
the page receives) and at the end (confusion matrix, misread gallery), timed from one epoch's end to
the next's. The server draws in its own
process, so (b) here is an upper bound on what the extras take from training.

    MNIST_ROOT=../shared/mnist python -m bench.train_extras --epochs 3 --repeats 2

(a) and (b) alternate, so a change in the machine's other load falls on both."""
from __future__ import annotations

import argparse
import io
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from train import DoneEvent, EpochEvent, load_mnist, train, with_styles
from train.figures import confusion_figure, misread_figure, weight_grid
from webapp.guards.limits import TRAINING_THREADS
from webapp.training.form import TRAIN_TAB


def one_run(config, data, out: Path, extras: bool) -> list[float]:
    """Wall-clock seconds from one epoch's end to the next's, the driver's drawing included; with
    `extras`, a drawing is followed and every picture drawn."""
    probe = data.test_x[0].numpy() if extras else None
    stamps = [time.perf_counter()]
    for event in train(config, out, data=data, probe=probe):
        if isinstance(event, EpochEvent):
            if extras:
                Image.fromarray(weight_grid(event.first_layer)).save(io.BytesIO(), format="png")
            stamps.append(time.perf_counter())
        elif isinstance(event, DoneEvent) and extras:
            for fig in (confusion_figure(event.confusion), misread_figure(event.misread)):
                fig.savefig(io.BytesIO(), format="png")
    return list(np.diff(stamps))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2, help="pairs of runs, (a) then (b)")
    args = ap.parse_args()
    torch.set_num_threads(TRAINING_THREADS)      # as the training process runs on a quiet server
    config = replace(TRAIN_TAB, epochs=args.epochs)
    data = with_styles(config, load_mnist(valid_size=config.valid_size, seed=config.seed))
    times = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for extras in (False, True):
                times[extras] += one_run(config, data, Path(tmp) / f"{r}{extras}.safetensors", extras)
                print(f"repeat {r} {'with' if extras else 'without'} extras: "
                      + ", ".join(f"{s:.2f}" for s in times[extras][-args.epochs:]) + " s", flush=True)
    plain, extra = np.median(times[False]), np.median(times[True])
    print(f"\nmedian epoch: {plain:.2f} s without, {extra:.2f} s with the extra outputs ({extra / plain:.3f}x; "
          f"goal <= 1.10x)")


if __name__ == "__main__":
    main()
