"""Startup: seconds from `python app.py` to its first successful prediction over HTTP, against
the floor of a fresh `python -c "import torch, gradio"`, alternated in the same run. Goal: at most 2x.

    python -m bench.startup              # 3 of each, medians
    python -m bench.startup --repeat 5

The prediction is a real pen digit sent as the browser sends it (bench.serve_load.Caller), retried
every POLL seconds until the server answers; the server is stopped after each try."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.visitor import Caller, sketch_pngs
from harness.app_driver import REPO, free_port, stop_process
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS

POLL = 0.05          # s between tries while the server is not answering yet
TIMEOUT = 180.0      # s; a start slower than this fails the bench


def import_floor() -> float:
    """Seconds for a fresh interpreter to import torch and gradio and exit."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, gradio"], check=True, cwd=REPO)
    return time.perf_counter() - started


def first_prediction(pngs: dict[str, bytes], runs: str) -> float:
    """Seconds from starting `python app.py` to the first /predict that returns a label."""
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False", "RUNS_DIR": runs}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    caller = Caller(f"http://127.0.0.1:{port}/")
    try:
        while True:
            try:
                if caller.draw("/predict", pngs)[0]["label"] is not None:
                    return time.perf_counter() - started
            except Exception:     # connection refused, or the app still starting: try again
                if proc.poll() is not None:
                    raise RuntimeError(f"app.py exited with {proc.returncode}") from None
                if time.perf_counter() - started > TIMEOUT:
                    raise TimeoutError(f"no prediction within {TIMEOUT:.0f} s") from None
                time.sleep(POLL)
    finally:
        caller.close()
        stop_process(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="starts of each kind, alternated")
    args = ap.parse_args()
    pngs = sketch_pngs(render_sketchpad(load_pen_digits()[0], CANVAS))
    floors, starts = [], []
    with tempfile.TemporaryDirectory() as runs:
        for i in range(args.repeat):
            floors.append(import_floor())
            starts.append(first_prediction(pngs, runs))
            print(f"try {i + 1}: import floor {floors[-1]:.2f} s, app.py to first prediction {starts[-1]:.2f} s",
                  flush=True)
    floor, start = float(np.median(floors)), float(np.median(starts))
    print(f"\nmedian: import floor {floor:.2f} s, first prediction {start:.2f} s, ratio {start / floor:.2f} "
          f"({'met' if start / floor <= 2 else 'NOT MET'}: goal <= 2)")


if __name__ == "__main__":
    main()
