"""Train tab latency over the HTTP API, as a visitor pressing Train meets it: seconds from the /train call
to its first streamed update, to the first train-loss point, and to the first status that shows a valid
accuracy of at least --target; optionally while --callers visitors keep predicting.

    MNIST_ROOT=../shared/mnist python -m bench.train_latency                # starts python app.py itself
    MNIST_ROOT=../shared/mnist python -m bench.train_latency --callers 8
    python -m bench.train_latency --url http://127.0.0.1:7860/             # a server started elsewhere

Each try is a fresh /train with the Train tab's defaults (webapp.training.form.TRAIN_TAB) unless --epochs is given;
it is left as a closed tab leaves it once the target is reached. The first try is pressed the moment
the just-started server answers (a Space woken from sleep), while it still reads MNIST and starts its
training process, so it is reported apart from the rest. MNIST and the style copies are kept as tensor
files (train/cache.py; $TENSOR_CACHE, else data/cache/): the first start ever makes them, later starts
read them."""
from __future__ import annotations

import argparse
import re
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict

import numpy as np

from bench.visitor import Caller, sketch_pngs
from harness.app_driver import run_rows, serve_app
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS
from webapp.training.form import TRAIN_TAB, train_args

VALID = re.compile(r"valid accuracy ([0-9.]+)%")


def one_run(url: str, config: dict, target: float, timeout: float) -> dict[str, float | None]:
    """Seconds to the first update, the first train-loss point and the target valid accuracy, from the
    /train call that got the slot (the previous try's run may still be saving)."""
    while True:
        try:
            return _timed_run(url, config, target, timeout)
        except RuntimeError as e:
            if "in progress" not in str(e):
                raise
            time.sleep(0.5)


def _timed_run(url: str, config: dict, target: float, timeout: float) -> dict[str, float | None]:
    caller, seen = Caller(url), {"first update": None, "first train-loss point": None, "target valid accuracy": None}
    started = time.perf_counter()
    try:
        for _, outputs in caller.stream("/train", train_args(config)):
            now = time.perf_counter() - started
            seen["first update"] = seen["first update"] or now
            if run_rows(outputs[2]) and seen["first train-loss point"] is None:
                seen["first train-loss point"] = now
            match = VALID.search(outputs[0])
            if match and float(match.group(1)) >= target * 100:
                seen["target valid accuracy"] = now
                break                  # leaving the stream ends the run, as a closed tab does
            if now > timeout:
                break
    finally:
        caller.close()
    return seen


def predicting(url: str, callers: int, leaving: threading.Event) -> list[threading.Thread]:
    """`callers` visitors drawing pen digits without pause until `leaving` is set."""
    sketches = [sketch_pngs(render_sketchpad(d, CANVAS, seed=i)) for i, d in enumerate(load_pen_digits()[:8])]

    def loop(i: int) -> None:
        caller = Caller(url)
        while not leaving.is_set():
            caller.draw("/predict", sketches[i % len(sketches)])
            i += 1
        caller.close()

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(callers)]
    for t in threads:
        t.start()
    return threads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="a running app (default: start python app.py with a temporary runs folder)")
    ap.add_argument("--tries", type=int, default=3, help="runs after the first (which also reads MNIST)")
    ap.add_argument("--target", type=float, default=0.98, help="valid accuracy to wait for")
    ap.add_argument("--epochs", type=int, default=None, help="override the Train tab's default epochs")
    ap.add_argument("--callers", type=int, default=0, help="visitors predicting without pause meanwhile")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds before a try gives up on the target")
    args = ap.parse_args()
    config = asdict(TRAIN_TAB)
    if args.epochs is not None:
        config["epochs"] = args.epochs
    with tempfile.TemporaryDirectory() as runs:
        with (nullcontext(args.url) if args.url else serve_app({"RUNS_DIR": runs})) as url:
            leaving = threading.Event()
            threads = predicting(url, args.callers, leaving) if args.callers else []
            results = []
            for i in range(args.tries + 1):
                results.append(one_run(url, config, args.target, args.timeout))
                print(f"try {i}{' (fresh server)' if i == 0 else ''}: " + ", ".join(
                    f"{k} {v:.2f} s" if v is not None else f"{k} not reached" for k, v in results[-1].items()),
                    flush=True)
            leaving.set()
            for t in threads:
                t.join(30)
    print(f"\nmedian of tries 1-{args.tries}, {args.callers} callers predicting:")
    for key in results[0]:
        values = [r[key] for r in results[1:] if r[key] is not None]
        print(f"  {key}: {np.median(values):.2f} s" if values else f"  {key}: not reached")


if __name__ == "__main__":
    main()
