"""Accuracy on writers a model has never seen, for the recipe that trains on pen digits (the shipped
checkpoint's): the pen digits are split into folds, a model is trained on MNIST plus the pen digits
of all folds but one, and scored on the grid of bench.pen_accuracy with the digits of that one.
Every digit is thus read by a model that never saw its writer; the folds' grids are merged.

    python -m bench.pen_heldout                    # --split writers: 5 folds, no writer in two (5 models)
    python -m bench.pen_heldout --folds 2          # each model trained on half the writers
    python -m bench.pen_heldout --split groups     # 4 folds, one writer group each (4 models)
    python -m bench.pen_heldout --no-pens          # the same folds, MNIST (and styles) only

--split writers predicts new people of the groups trained on; --split groups, people who write the
way no group in training does: the harder case, kept apart in the results."""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.pen_accuracy import merge_grids, pen_grid, print_grid, sample_digits
from mnist_model import DigitRecognizer
from train import DoneEvent, EpochEvent, TrainConfig, load_mnist, train
from train.data import PEN_RENDERS, pen_renders
from train.pen_digits import load_pen_digits, writer_folds


def train_recognizer(config: TrainConfig, data, fold: int) -> DigitRecognizer:
    with tempfile.TemporaryDirectory() as tmp:
        for event in train(config, Path(tmp) / "model.safetensors", data=data):
            if isinstance(event, EpochEvent):
                print(f"  fold {fold}: epoch {event.epoch} valid {event.valid_acc:.2%}", end="\r", flush=True)
            elif isinstance(event, DoneEvent):
                if event.checkpoint is None:
                    raise SystemExit(event.message)
                return DigitRecognizer.load(event.checkpoint)
    raise SystemExit("training ended without a result")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--split", choices=("writers", "groups"), default="writers")
    ap.add_argument("--folds", type=int, default=5,
                    help="--split writers: each model trains on (folds-1)/folds of the writers; the shipped one on all")
    ap.add_argument("--pen-digits", default=None,
                    help="JSON-lines pen digits, plain or gzipped (default: $PEN_DIGITS, else the committed dev set)")
    ap.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_ROOT or ./data)")
    ap.add_argument("--renders", type=int, default=PEN_RENDERS,
                    help="drawings of each training pen digit (as the CLI)")
    ap.add_argument("--no-pens", action="store_true", help="train on MNIST only: the baseline for the same folds")
    ap.add_argument("--samples", type=int, default=900, help="held-out digits scored per fold, 0 = all")
    ap.add_argument("--seed", type=int, default=0, help="training seed; also picks the sample and positions")
    args = ap.parse_args()

    digits = load_pen_digits(args.pen_digits)
    if args.split == "writers":
        if args.folds < 2:
            raise SystemExit(f"--folds must be at least 2, got {args.folds}")
        folds = writer_folds(digits, args.folds)
    else:
        names = sorted({d.writer_group for d in digits})
        folds = [names.index(d.writer_group) for d in digits]
    config = TrainConfig(seed=args.seed)
    mnist = load_mnist(args.data_dir, config.valid_size, config.seed)
    parts, tests, rec = [], [], None
    for fold in sorted(set(folds)):
        held = [d for d, f in zip(digits, folds) if f == fold]
        seen = [d for d, f in zip(digits, folds) if f != fold]
        started = time.perf_counter()
        if rec is None or not args.no_pens:      # without pen digits every fold's model is the same one
            data = mnist if args.no_pens else mnist.with_extra_training(*pen_renders(seen, args.renders, args.seed))
            rec = train_recognizer(config, data, fold)
        held = sample_digits(held, args.samples, args.seed)
        grid = pen_grid(rec, held, args.seed)
        tests.append(rec.info["test_accuracy"])
        parts.append((grid, dict(Counter(d.writer_group for d in held))))
        trained = "MNIST only" if args.no_pens else f"{len(seen)} pen digits of {len({d.writer for d in seen})} writers"
        print(f"fold {fold}: trained on {trained}, scored {len(held)} digits of {len({d.writer for d in held})} "
              f"others ({', '.join(sorted(parts[-1][1]))}); MNIST test "
              f"{tests[-1]:.2%}; {time.perf_counter() - started:.0f} s")
    groups = sorted({g for _, counts in parts for g in counts})
    print(f"split by {args.split}, {'MNIST only' if args.no_pens else 'MNIST + pen digits'}, seed {args.seed}:")
    print_grid(merge_grids(parts), groups)
    print(f"MNIST test accuracy of the fold models: {', '.join(f'{t:.2%}' for t in tests)}")


if __name__ == "__main__":
    main()
