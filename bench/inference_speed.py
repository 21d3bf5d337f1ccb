"""Median time of DigitRecognizer.predict on an 800x800 Sketchpad value, against the naive pipeline
most digit apps use (composite -> convert("L") -> resize((28, 28)) -> forward), in the same run.
Goal: predict takes no more than 2x the naive time.

    python -m bench.inference_speed                 # 200 timed calls per case, shipped checkpoint
    python -m bench.inference_speed --repeat 20     # quicker"""
from __future__ import annotations

import time

import numpy as np
import torch
from PIL import Image

from bench.pen_accuracy import model_parser
from mnist_model import DigitRecognizer
from train.pen_digits import load_pen_digits, render_sketchpad

CASES = ((0.5, 10), (0.85, 3), (0.25, 25))   # (digit height as a fraction of the canvas, brush radius px)


def naive_predict(rec: DigitRecognizer, value: dict) -> np.ndarray:
    """What most apps do: shrink the whole composite to 28x28 and classify it (black digit on white)."""
    x = np.asarray(Image.fromarray(value["composite"]).convert("L").resize((28, 28)), np.float32)
    with torch.inference_mode():
        logits = rec.model(torch.from_numpy((x / 255 - rec.mean) / rec.std)[None])
        return torch.softmax(logits, 1)[0].numpy()


def median_ms(fn, repeat: int) -> float:
    """Median wall time of fn() in milliseconds, after two warm-up calls."""
    fn(), fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1000)


def main() -> None:
    ap = model_parser(__doc__)
    ap.add_argument("--repeat", type=int, default=200, help="timed calls per case")
    ap.add_argument("--canvas", type=int, default=800, help="canvas side, px")
    args = ap.parse_args()

    torch.set_num_threads(1)          # what each request gets on a shared server; also steadier timings
    rec = DigitRecognizer.load(args.checkpoint)
    digit = load_pen_digits(args.pen_digits)[0]
    print("| digit height | brush | predict ms | naive ms | ratio |\n|---|---|---|---|---|")
    ratios = []
    for height, brush in CASES:
        value = render_sketchpad(digit, args.canvas, height, brush, seed=0)
        ours = median_ms(lambda: rec.predict(value), args.repeat)
        naive = median_ms(lambda: naive_predict(rec, value), args.repeat)
        ratios.append(ours / naive)
        print(f"| {height:12.0%} | {brush:5} | {ours:10.2f} | {naive:8.2f} | {ours / naive:5.2f} |")
    print(f"{args.canvas}x{args.canvas} Sketchpad value, median of {args.repeat} calls, 1 torch thread; "
          f"worst ratio {max(ratios):.2f} (goal: <= 2)")


if __name__ == "__main__":
    main()
