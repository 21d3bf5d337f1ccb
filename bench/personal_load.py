"""What personal models cost other visitors: the running app's /predict latency for 8 closed-loop
callers (bench.serve_load's callers, each its own session), alone and while other visitors correct
drawings at the server's per-minute limit (FEEDBACK_PER_MINUTE), each correction starting an
adaptation of that visitor's model on the server's one adaptation thread. The quiet and correcting
cases alternate, so that a change in the machine's other load falls on both.

    MNIST_ROOT=../shared/mnist python -m bench.personal_load                  # 8 callers, 4 correcting
    MNIST_ROOT=../shared/mnist python -m bench.personal_load --no-personal   # the same corrections, no learning

Goal: p50 of /predict while others correct at most 1.10x the quiet p50."""
from __future__ import annotations

import argparse
import tempfile
import threading
import time

from bench.serve_load import SKETCHES, Case, hammer
from bench.visitor import Caller, sketch_pngs
from harness.app_driver import serve_app
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS
from webapp.draw.feedback import FeedbackLimits


def correct(url: str, sketches: list[dict], labels: list[int], stop: threading.Event, sent: list) -> None:
    """One visitor correcting drawing after drawing (each labelled one more than its true digit, a
    correction the model must learn), as often as the per-minute limit lets them."""
    c = Caller(url)
    gap = 60.0 / FeedbackLimits.from_env().per_minute
    try:
        for n in range(10**9):
            if stop.is_set():
                return
            started = time.perf_counter()
            c.draw("/feedback", sketches[n % len(sketches)], (labels[n % len(labels)] + 1) % 10)
            sent.append(n)
            stop.wait(max(0.0, gap - (time.perf_counter() - started)))
    finally:
        c.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--callers", type=int, default=8, help="visitors drawing, closed loop")
    ap.add_argument("--correctors", type=int, default=4, help="other visitors correcting at the per-minute limit")
    ap.add_argument("--requests", type=int, default=200, help="/predict calls per case")
    ap.add_argument("--rounds", type=int, default=2, help="quiet and correcting cases, alternated")
    ap.add_argument("--no-personal", action="store_true",
                    help="serve with PERSONAL_MAX_DIGITS=0: what the corrections cost without personal models")
    args = ap.parse_args()

    digits = load_pen_digits()[:SKETCHES]
    sketches = [sketch_pngs(render_sketchpad(d, CANVAS, seed=i)) for i, d in enumerate(digits)]
    labels = [d.label for d in digits]
    with tempfile.TemporaryDirectory() as tmp:
        env = {"RUNS_DIR": tmp, "FEEDBACK_DIR": tmp + "/feedback", "ALLOW_TRAINING": "0",
               "UPLOAD_MB_PER_MINUTE": "1000000", **({"PERSONAL_MAX_DIGITS": "0"} if args.no_personal else {})}
        with serve_app(env) as url:
            callers = [Caller(url) for _ in range(args.callers)]
            for c in callers:          # warm-up: connections opened, untimed
                c.draw("/predict", sketches[0])
            rows = []
            for r in range(args.rounds):
                for correcting in (False, True):
                    stop, sent = threading.Event(), []
                    threads = [threading.Thread(target=correct, args=(url, sketches, labels, stop, sent))
                               for _ in range(args.correctors if correcting else 0)]
                    for t in threads:
                        t.start()
                    case = hammer(callers, "/predict", sketches, Case("correcting" if correcting else "quiet",
                                                                      "/predict", args.callers), args.requests)
                    stop.set()
                    for t in threads:
                        t.join()
                    rows.append((case, len(sent)))
                    print(f"round {r}: {case.load:10} p50 {case.ms(50):6.1f} ms  p95 {case.ms(95):6.1f} ms  "
                          f"errors {len(case.errors)}  corrections {len(sent)} in {case.seconds:.0f} s", flush=True)
            for c in callers:
                c.close()
    quiet = [c.ms(50) for c, _ in rows if c.load == "quiet"]
    busy = [c.ms(50) for c, _ in rows if c.load == "correcting"]
    ratios = [b / q for q, b in zip(quiet, busy)]
    print(f"p50 while others correct / quiet p50, per round: {', '.join(f'{x:.2f}x' for x in ratios)} "
          f"(goal: <= 1.10x)")


if __name__ == "__main__":
    main()
