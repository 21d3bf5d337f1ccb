"""Server time the "Look inside" view adds to an answer, on one torch thread.

    explain   every layer's values, the saliency of the answer and of the runner-up, and the 8 nearest
              of MNIST's 55,000 training digits, for a prediction already made
              (mnist_model.explain.explain). Goal: <= 5 ms.
    view      the whole handler the page calls after each answer while the view is open
              (webapp.draw.look_inside.view: the drawing read again, explain, the pictures drawn into HTML),
              as after the view's first answer, when the layer picker's entries are already sent.
    predict   DigitRecognizer.predict alone, for scale.

Each is the median over --repeat calls of wall time and of the thread's CPU time (on a busy machine the
second is the steadier measure of what the server spends). The one-off build of a model's embeddings
is reported apart.

    python -m bench.explain_cost                 # 200 timed calls per pen digit, shipped checkpoint
    python -m bench.explain_cost --repeat 20     # quicker"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mnist_model.explain import explain
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS
from webapp.draw.tab import recognizers
from webapp.draw.look_inside import training_digits, view
from webapp.training.runs import DEFAULT_KEY

GOAL_MS = 5.0
DIGITS = 5          # pen digits drawn on the pad, one case each


def medians_ms(fn, repeat: int) -> tuple[float, float]:
    """Median wall and thread-CPU time of fn() in milliseconds, after two warm-up calls."""
    fn(), fn()
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
    return float(np.median(wall) * 1000), float(np.median(cpu) * 1000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--pen-digits", default=None,
                    help="JSON-lines pen digits, plain or gzipped (default: $PEN_DIGITS, else the committed dev set)")
    ap.add_argument("--repeat", type=int, default=200, help="timed calls per case")
    args = ap.parse_args()

    torch.set_num_threads(1)          # what each request gets on a shared server
    rec = recognizers.get(DEFAULT_KEY)
    digits = training_digits()
    if digits is None:
        raise SystemExit("MNIST is not in $MNIST_ROOT (or ./data): the neighbours cannot be timed")
    started = time.perf_counter()
    digits.embeddings(rec)
    build = time.perf_counter() - started
    print("| pen digit | answer | predict ms | explain ms | view ms |\n|---|---|---|---|---|")
    worst = np.zeros(4)
    for i, digit in enumerate(load_pen_digits(args.pen_digits)[:DIGITS]):
        value = render_sketchpad(digit, CANVAS, 0.6, 10, seed=i)
        p = rec.predict(value)
        runner_up = int(np.argsort(-p.probabilities, kind="stable")[1])
        sent = view(value, DEFAULT_KEY, True, 0, 5, None, "en", strict=True)[-1]   # the page's layout, as after
        times = [medians_ms(lambda: rec.predict(value), args.repeat),                # its first answer
                 medians_ms(lambda: explain(rec, p, [runner_up], digits), args.repeat),
                 medians_ms(lambda: view(value, DEFAULT_KEY, True, 0, 5, sent, "en", strict=True), args.repeat)]
        worst = np.maximum(worst, [times[1][0], times[1][1], times[2][0], times[2][1]])
        print(f"| {digit.label} | {p.label} | " + " | ".join(f"{w:.2f} (CPU {c:.2f})" for w, c in times) + " |")
    print(f"{CANVAS}x{CANVAS} Sketchpad values, first-layer unit chosen, runner-up shown; median of {args.repeat} "
          f"calls, 1 torch thread; neighbours among {len(digits):,} training digits, whose embeddings took "
          f"{build:.2f} s to build once for this model.\nworst explain {worst[0]:.2f} ms (CPU {worst[1]:.2f}; "
          f"goal: <= {GOAL_MS:g} ms); worst whole view {worst[2]:.2f} ms (CPU {worst[3]:.2f})")


if __name__ == "__main__":
    main()
