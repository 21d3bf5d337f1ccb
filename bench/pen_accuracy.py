"""Accuracy of DigitRecognizer.predict on real pen digits replayed as Sketchpad drawings, over the
grid of canvas size x digit height x brush radius people actually use, and on MNIST test digits
passed in as raw 28x28 arrays (preprocessing an MNIST digit should be close to identity).

    python -m bench.pen_accuracy                      # 1,000 digits per combination, shipped checkpoint
    python -m bench.pen_accuracy --samples 0          # every dev digit in every combination (slow)
    python -m bench.pen_accuracy --checkpoint runs/a/model.safetensors --groups ced,uqb

Goals: pen mean >= 97%, no combination < 95%; MNIST through predict within 0.3 points
of the checkpoint's own test accuracy."""
from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np

from mnist_model import DigitRecognizer
from train.pen_digits import PenDigit, load_pen_digits, render_sketchpad

CANVASES = (400, 800)          # px, square
HEIGHTS = (0.25, 0.5, 0.85)    # digit height, fraction of the canvas
BRUSHES = (3, 10, 25)          # brush radius, px per 800 px of canvas
BATCH = 64                     # drawings per predict_batch call


def pen_grid(rec: DigitRecognizer, digits: list[PenDigit], seed: int = 0) -> dict[tuple, dict[str, float]]:
    """{(canvas, height, brush): {"all": accuracy, <writer group>: accuracy, ...}} over the grid;
    each digit is drawn at a random position chosen by `seed`, the combination and its index."""
    results = {}
    for c_i, canvas in enumerate(CANVASES):
        for h_i, height in enumerate(HEIGHTS):
            for b_i, brush in enumerate(BRUSHES):
                hits: dict[str, list[bool]] = defaultdict(list)
                for start in range(0, len(digits), BATCH):
                    chunk = digits[start:start + BATCH]
                    values = [render_sketchpad(d, canvas, height, brush,
                                               seed=hash((seed, c_i, h_i, b_i, start + k)) & 0xFFFFFFFF)
                              for k, d in enumerate(chunk)]
                    for d, p in zip(chunk, rec.predict_batch(values)):
                        hits[d.writer_group].append(p.label == d.label)
                        hits["all"].append(p.label == d.label)
                results[(canvas, height, brush)] = {g: float(np.mean(v)) for g, v in hits.items()}
    return results


def sample_digits(digits: list[PenDigit], n: int, seed: int) -> list[PenDigit]:
    """`n` of `digits` picked at random by `seed`, in their original order; all of them when n is 0."""
    if not 0 < n < len(digits):
        return digits
    order = np.random.default_rng(seed).permutation(len(digits))[:n]
    return [digits[i] for i in sorted(order)]


def merge_grids(parts: list[tuple[dict, dict[str, int]]]) -> dict[tuple, dict[str, float]]:
    """One grid from grids over disjoint sets of digits, each given with its digit count per group."""
    merged = {}
    for combo in parts[0][0]:
        acc = {}
        for g in {g for _, counts in parts for g in counts}:
            num = sum(grid[combo][g] * counts[g] for grid, counts in parts if counts.get(g))
            acc[g] = num / sum(counts.get(g, 0) for _, counts in parts)
        total = sum(sum(counts.values()) for _, counts in parts)
        acc["all"] = sum(grid[combo]["all"] * sum(counts.values()) for grid, counts in parts) / total
        merged[combo] = acc
    return merged


def print_grid(results: dict[tuple, dict[str, float]], groups: list[str]) -> None:
    print("| canvas | height | brush | all    | " + " | ".join(f"{g:6}" for g in groups) + " |")
    print("|" + "---|" * (4 + len(groups)))
    for (canvas, height, brush), acc in results.items():
        print(f"| {canvas:6} | {height:6.0%} | {brush:5} | {acc['all']:6.2%} | "
              + " | ".join(f"{acc[g]:6.2%}" for g in groups) + " |")
    overall = [acc["all"] for acc in results.values()]
    print(f"pen mean {np.mean(overall):.2%}, min {min(overall):.2%} (goal: mean >= 97%, min >= 95%)")
    for g in groups:
        print(f"  {g}: mean {np.mean([acc[g] for acc in results.values()]):.2%}")


def mnist_through_predict(rec: DigitRecognizer, data_dir: str | None, limit: int) -> float:
    """Accuracy of predict on MNIST test digits given as raw uint8 (28, 28) arrays."""
    from train import load_mnist
    test = load_mnist(data_dir)
    x, y = test.test_x.numpy()[:limit or None], test.test_y.numpy()[:limit or None]
    labels = [p.label for start in range(0, len(x), 1000) for p in rec.predict_batch(list(x[start:start + 1000]))]
    return float(np.mean(np.array(labels) == y))


def model_parser(doc: str) -> argparse.ArgumentParser:
    """A bench's argument parser, described by its docstring's first paragraph, with the model and pen
    digits to measure."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="model file (default: the shipped checkpoint)")
    ap.add_argument("--pen-digits", default=None,
                    help="JSON-lines pen digits, plain or gzipped (default: $PEN_DIGITS, else the committed dev set)")
    return ap


def main() -> None:
    ap = model_parser(__doc__)
    ap.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_ROOT or ./data)")
    ap.add_argument("--samples", type=int, default=1000, help="pen digits per combination, 0 = all")
    ap.add_argument("--groups", default="", help="comma-separated writer groups to keep (default: all)")
    ap.add_argument("--mnist", type=int, default=10000, help="MNIST test digits to check, 0 = none")
    ap.add_argument("--seed", type=int, default=0, help="picks the sample and the positions")
    args = ap.parse_args()

    rec = DigitRecognizer.load(args.checkpoint)
    digits = load_pen_digits(args.pen_digits)
    if args.groups:
        digits = [d for d in digits if d.writer_group in args.groups.split(",")]
    digits = sample_digits(digits, args.samples, args.seed)
    groups = sorted({d.writer_group for d in digits})

    trained_on = set(rec.info.get("data", {}).get("pen_digits", {}).get("writer_groups", ()))
    if trained_on & set(groups):
        print(f"note: this checkpoint was trained on pen digits of {', '.join(sorted(trained_on))}: if they came "
              f"from this file, these are writers it has seen. For unseen writers: python -m bench.pen_heldout")
    started = time.perf_counter()
    results = pen_grid(rec, digits, args.seed)
    print(f"pen digits: {len(digits)} per combination ({', '.join(groups)}), "
          f"{time.perf_counter() - started:.0f} s")
    print_grid(results, groups)
    if args.mnist:
        acc = mnist_through_predict(rec, args.data_dir, args.mnist)
        own = rec.info.get("test_accuracy")
        print(f"MNIST test through predict: {acc:.2%} on {min(args.mnist, 10000)} digits; checkpoint's own "
              f"test accuracy {own:.2%} (goal: within 0.30 points)" if own is not None else f"{acc:.2%}")


if __name__ == "__main__":
    main()
