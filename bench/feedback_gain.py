"""What visitors' corrections are worth on writers who never drew for the app. Within each writer
group of the dev pen digits, half the writers play visitors who correct the app: each of their
digits is drawn once, at a random canvas size, digit size, position and brush, and stored through the
app's own feedback store (webapp.draw.feedback) as the browser's drawing would be. The other half are
scored on bench.pen_accuracy's grid by two models of the same recipe and seed: one trained on MNIST
alone (`python -m train`), one with the visitors' folder added (`python -m train --feedback DIR`).
The drawings are made once (by the first seed); each seed then trains both models.

    python -m bench.feedback_gain                    # seeds 0 and 1, 5 epochs: four trainings
    python -m bench.feedback_gain --epochs 20 --seeds 0,1,2                # the documented 20 epochs
    python -m bench.feedback_gain --epochs 20 --seeds 0 --copies 8 --arms feedback   # corrections weighted 8x"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.pen_accuracy import BRUSHES, CANVASES, HEIGHTS, pen_grid, sample_digits
from bench.pen_heldout import train_recognizer
from train import TrainConfig, load_mnist
from train.feedback import feedback_training, read_feedback
from train.pen_digits import PenDigit, load_pen_digits, render_sketchpad, writer_folds
from webapp.draw.feedback import FeedbackLimits, FeedbackStore

CANVAS_RANGE = (300, 900)     # px: phones to desktops, before the store's downscale to 448
HEIGHT_RANGE = (0.25, 0.9)    # digit height, fraction of the canvas
BRUSH_RANGE = (3.0, 25.0)     # brush radius, px per 800 px of canvas


def collect(visitors: list[PenDigit], folder: Path, drawings: int, seed: int) -> int:
    """Each visitor digit drawn `drawings` times and stored as a correction with its true label."""
    store = FeedbackStore(folder, FeedbackLimits(per_minute=10**9, max_items=10**9, max_mb=1e6))
    rng = np.random.default_rng(seed)
    for digit in visitors:
        for _ in range(drawings):
            value = render_sketchpad(digit, canvas=int(rng.integers(*CANVAS_RANGE)), height=rng.uniform(*HEIGHT_RANGE),
                                     brush=rng.uniform(*BRUSH_RANGE), seed=int(rng.integers(1 << 30)))
            store.add(value, digit.label, predicted=None, model="bench", session=digit.writer)
    return store.items


def summary(grid: dict, groups: list[str]) -> dict[str, float]:
    accs = [acc["all"] for acc in grid.values()]
    return {"mean": float(np.mean(accs)), "worst": min(accs),
            **{g: float(np.mean([acc[g] for acc in grid.values()])) for g in groups}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--seeds", default="0,1", help="training seeds (each also picks the scored sample and positions)")
    ap.add_argument("--epochs", type=int, default=5, help="epochs of each training (the documented recipe: 20)")
    ap.add_argument("--drawings", type=int, default=1, help="corrections each visitor digit gives")
    ap.add_argument("--copies", type=int, default=1, help="times each correction is put in the training digits")
    ap.add_argument("--arms", default="both", choices=("both", "feedback"), help="train both models, or only "
                    "the one with feedback (to compare --copies against an earlier run's MNIST recipe)")
    ap.add_argument("--samples", type=int, default=600, help="scored digits, 0 = all of the scored writers'")
    ap.add_argument("--pen-digits", default=None, help="JSON-lines pen digits (default: the dev set)")
    ap.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_ROOT or ./data)")
    args = ap.parse_args()

    digits = load_pen_digits(args.pen_digits)
    folds = writer_folds(digits, 2)          # each group's writers dealt in turn: half visit, half are scored
    visitors = [d for d, f in zip(digits, folds) if f == 0]
    scored = [d for d, f in zip(digits, folds) if f == 1]
    groups = sorted({d.writer_group for d in digits})
    print(f"visitors: {len(visitors)} digits of {len({d.writer for d in visitors})} writers; scored: "
          f"{len(scored)} digits of {len({d.writer for d in scored})} others "
          f"({', '.join(f'{g} {n}' for g, n in sorted(Counter(d.writer_group for d in scored).items()))})")
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        items = collect(visitors, Path(tmp) / "feedback", args.drawings, seeds[0])
        x, y, note = feedback_training(read_feedback(Path(tmp) / "feedback"))
        feedback = (x.repeat(args.copies, 1, 1), y.repeat(args.copies), note)
        print(f"{items} corrections stored and read back in {time.perf_counter() - started:.0f} s")
    rows = []
    for seed in seeds:
        config = TrainConfig(seed=seed, epochs=args.epochs)
        mnist = load_mnist(args.data_dir, config.valid_size, seed)
        held = sample_digits(scored, args.samples, seed)
        arms = [("MNIST recipe", mnist)] if args.arms == "both" else []
        for name, data in arms + [("+ feedback", mnist.with_extra_training(*feedback))]:
            started = time.perf_counter()
            rec = train_recognizer(config, data, seed)
            result = summary(pen_grid(rec, held, seed), groups)
            rows.append((seed, name, result, rec.info["test_accuracy"]))
            print(f"seed {seed} {name}: mean {result['mean']:.2%}, worst {result['worst']:.2%}, MNIST test "
                  f"{rec.info['test_accuracy']:.2%}; {time.perf_counter() - started:.0f} s")
    print(f"\n{args.epochs} epochs; {len(held)} digits of the scored writers in each of "
          f"{len(CANVASES) * len(HEIGHTS) * len(BRUSHES)} combinations of canvas x height x brush:")
    print("| seed | training | mean | worst | " + " | ".join(groups) + " | MNIST test |")
    print("|" + "---|" * (5 + len(groups)))
    for seed, name, r, test in rows:
        print(f"| {seed} | {name} | {r['mean']:.2%} | {r['worst']:.2%} | "
              + " | ".join(f"{r[g]:.2%}" for g in groups) + f" | {test:.2%} |")
    for name in ("MNIST recipe", "+ feedback"):
        mine = [r for _, n, r, _ in rows if n == name]
        if not mine:
            continue
        print(f"{name}: mean over seeds {np.mean([r['mean'] for r in mine]):.2%}, worst combination "
              f"{min(r['worst'] for r in mine):.2%} (goal with feedback: mean >= 97%)")


if __name__ == "__main__":
    main()
