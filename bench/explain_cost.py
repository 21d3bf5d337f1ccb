"""Server time the "Look inside" view adds to an answer, on one torch thread: every layer's values,
the saliency of the answer and of the runner-up, and the 8 nearest of MNIST's 55,000 training
digits, for a prediction already made (mnist_model.explain.explain). Goal (issue 23): <= 5 ms.
predict alone is timed in the same run for scale; the one-off embedding build per model is
reported apart.

    python -m bench.explain_cost                 # 200 timed calls per pen digit, shipped checkpoint
    python -m bench.explain_cost --repeat 20     # quicker"""
from __future__ import annotations

import argparse
import time

import torch

from bench.inference_speed import median_ms
from mnist_model import DigitRecognizer, TrainingDigits
from mnist_model.explain import explain
from train import load_mnist
from train.pen_digits import load_pen_digits, render_sketchpad

GOAL_MS = 5.0
DIGITS = 5          # pen digits drawn on the pad, one case each


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="model file (default: the shipped checkpoint)")
    ap.add_argument("--pen-digits", default=None,
                    help="JSON-lines pen digits, plain or gzipped (default: $PEN_DIGITS, else the committed dev set)")
    ap.add_argument("--repeat", type=int, default=200, help="timed calls per case")
    args = ap.parse_args()

    torch.set_num_threads(1)          # what each request gets on a shared server
    rec = DigitRecognizer.load(args.checkpoint)
    mnist = load_mnist()
    digits = TrainingDigits(mnist.train_x, mnist.train_y)
    started = time.perf_counter()
    digits.embeddings(rec)
    build = time.perf_counter() - started
    print("| pen digit | answer | predict ms | explain adds ms |\n|---|---|---|---|")
    added = []
    for i, digit in enumerate(load_pen_digits(args.pen_digits)[:DIGITS]):
        value = render_sketchpad(digit, 448, 0.6, 10, seed=i)
        prediction = rec.predict(value)
        runner_up = int(prediction.probabilities.argsort()[-2])
        ms = median_ms(lambda: rec.predict(value), args.repeat)
        added.append(median_ms(lambda: explain(rec, prediction, [runner_up], digits), args.repeat))
        print(f"| {digit.label} | {prediction.label} | {ms:.2f} | {added[-1]:.2f} |")
    print(f"448x448 Sketchpad values, median of {args.repeat} calls, 1 torch thread; neighbours among "
          f"{len(digits):,} training digits, whose embeddings took {build:.2f} s to build once for this model; "
          f"worst added {max(added):.2f} ms (goal: <= {GOAL_MS:g} ms)")


if __name__ == "__main__":
    main()
