"""`python -m train`: a thin command-line driver of the training engine.

Flags are generated from TrainConfig's fields, so defaults live in one place. Writes to --out:
the checkpoint, metrics.json (per-epoch history with seconds), three PNG plots of the run, and three of
what the model learned: the test confusion matrix, the most confidently misread test digits and the
first layer's weights (train/figures.py, which the Train tab draws too)."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import fields
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .config import CHOICES, TrainConfig
from .data import PEN_RENDERS, DataError, load_mnist, pen_renders
from .engine import DoneEvent, EpochEvent, StepEvent, train
from .feedback import FeedbackError, feedback_training, read_feedback
from .figures import confusion_figure, misread_figure, weight_grid
from .pen_digits import load_pen_digits

CHECKPOINT_NAME = "mnist_mlp.safetensors"
SMOOTH_STEPS = 50         # running-mean window of the train-loss plot, in steps
DRY_RUN_DIGITS = 1024      # --dry-run trains 2 epochs on this many digits: every output, in seconds


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default,
                           help=f.metadata["help"])
        elif f.type == "tuple[int, ...]":
            p.add_argument(flag, type=int, nargs="+", default=f.default, metavar="N", help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            p.add_argument(flag, type=kind, default=f.default, choices=CHOICES.get(f.name), help=f.metadata["help"])
    p.add_argument("--data-dir", default=None, help="MNIST root holding MNIST/raw/ (default: $MNIST_ROOT, else ./data, "
                                                    "downloaded on first use)")
    p.add_argument("--pen-digits", default=None, metavar="JSONL",
                   help="also train on these real pen digits, drawn as the app receives drawings")
    p.add_argument("--pen-renders", type=int, default=PEN_RENDERS,
                   help="random drawings made of each pen digit, every second one with varied strokes")
    p.add_argument("--feedback", default=None, metavar="DIR",
                   help="also train on the drawings visitors labelled in the app (a folder in imagefolder layout: "
                        "DIR/metadata.jsonl and its PNGs; python -m train.feedback list DIR shows them)")
    p.add_argument("--out", default="runs/cli", help="folder for the checkpoint, metrics.json and plots")
    p.add_argument("--dry-run", action="store_true",
                   help=f"smoke test: 2 epochs on {DRY_RUN_DIGITS} training digits, all outputs written")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    values = {f.name: getattr(args, f.name) for f in fields(TrainConfig)}
    values["hidden"] = tuple(values["hidden"])
    if args.dry_run:
        values["epochs"] = min(values["epochs"], 2)
    try:
        config = TrainConfig(**values).validate()
        if args.pen_renders < 1:
            raise ValueError(f"--pen-renders must be at least 1, got {args.pen_renders}")
        data = load_mnist(args.data_dir, config.valid_size, config.seed)
        if args.dry_run:
            data.train_x, data.train_y = data.train_x[:DRY_RUN_DIGITS], data.train_y[:DRY_RUN_DIGITS]
        if args.pen_digits:
            data = data.with_extra_training(*pen_renders(load_pen_digits(args.pen_digits), args.pen_renders,
                                                                config.seed))
        if args.feedback:
            data = data.with_extra_training(*feedback_training(read_feedback(args.feedback)))
    except (ValueError, DataError, FeedbackError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    out = Path(args.out)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())   # first Ctrl-C: finish the step, save the best model
    steps: list[tuple[float, float]] = []                 # (fractional epoch, batch loss) for the plot
    bar = tqdm(unit="step", dynamic_ncols=True)
    for event in train(config, out / CHECKPOINT_NAME, data=data, stop=stop):
        if isinstance(event, StepEvent):
            bar.total = event.total_steps
            bar.update(1)
            bar.set_postfix(loss=f"{event.loss:.3f}", lr=f"{event.lr:.2g}", refresh=False)
            steps.append((event.epoch, event.loss))
        elif isinstance(event, EpochEvent):
            bar.write(f"epoch {event.epoch:3d}  train loss {event.train_loss:.4f}  valid loss {event.valid_loss:.4f}  "
                      f"valid acc {event.valid_acc:.2%}  lr {event.lr:.2g}  {event.seconds:.1f}s")
        elif isinstance(event, DoneEvent):
            bar.close()
            write_outputs(out, config, event, steps)
            print(f"{event.message}\nwrote {out}/")
            return 0 if event.checkpoint else 1
    return 1


def write_outputs(out: Path, config: TrainConfig, done: DoneEvent, steps: list[tuple[float, float]]) -> None:
    """metrics.json, the three plots of the documented project (train loss, valid loss, learning rate)
    and, when there is a model, confusion.png, misread.png and first_layer.png."""
    import matplotlib
    matplotlib.use("Agg")                 # files only: no display needed
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    metrics = {"config": config.to_dict(), "history": done.history, "test_accuracy": done.test_acc,
               "stopped": done.stopped, "message": done.message,
               "checkpoint": done.checkpoint.name if done.checkpoint else None}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    epochs = [h["epoch"] for h in done.history]
    plots = [("train_loss", "train loss", [s[0] for s in steps], [s[1] for s in steps]),
             ("valid_loss", "valid loss", epochs, [h["valid_loss"] for h in done.history]),
             ("lr", "learning rate", epochs, [h["lr"] for h in done.history])]
    for name, label, xs, ys in plots:
        fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
        if name == "train_loss" and len(ys) >= SMOOTH_STEPS:
            # Single batches are noisy: draw them faintly, and their running mean on top.
            ax.plot(xs, ys, linewidth=0.5, alpha=0.3)
            smooth = np.convolve(ys, np.ones(SMOOTH_STEPS) / SMOOTH_STEPS, mode="valid")
            ax.plot(xs[SMOOTH_STEPS - 1:], smooth, linewidth=1.5, color="C0")
        else:
            ax.plot(xs, ys, marker="" if name == "train_loss" else "o", linewidth=1)
        ax.set(xlabel="epoch", ylabel=label, title=label, yscale="log" if name != "valid_loss" else "linear")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png")
        plt.close(fig)
    if done.confusion is not None:
        confusion_figure(done.confusion).savefig(out / "confusion.png")
        misread_figure(done.misread).savefig(out / "misread.png")
    if done.first_layer is not None:      # the saved model's
        from PIL import Image
        grid = weight_grid(done.first_layer)
        Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(out / "first_layer.png")
