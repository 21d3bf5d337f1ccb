"""Serving under load: the running app's /predict latency for 1, 8 and 32 concurrent callers,
idle and while a training run is in progress, against a no-op twin of /predict in the same server
(bench/floor_app.py); and the training epoch time with and without that load.

Each caller loops closed over Gradio's documented HTTP API (upload, POST /gradio_api/call/<endpoint>,
read the event stream): it sends its next request as soon as the last one answered, with no think
time, the worst case for a drawing crowd. Requests carry sketchpad values rendered from real pen
digits as the three PNG files the browser uploads on every stroke. The output image is not fetched,
for /noop and /predict alike, unless --views: then each answer's 28 x 28 view is downloaded as the page
does, and a view that is missing, cut short or not a whole PNG counts as an empty view. The training run
goes the same way. Everything runs on
127.0.0.1 in a temporary runs folder; the server is stopped at the end.

    MNIST_ROOT=../shared/mnist python -m bench.serve_load                  # idle and training, 1, 8 and 32 callers
    MNIST_ROOT=../shared/mnist python -m bench.serve_load --callers 1 8 --requests 100
    python -m bench.serve_load --callers 32 64 --requests 192 --views --idle    # torn views

Goals: idle predict p50 <= 1.5x the no-op p50 at 1 and 8 callers; while training, predict
p95 <= 3x idle p95 at 8 callers and epoch time <= 1.5x unloaded; no failed request at 32 callers."""
from __future__ import annotations

import argparse
import io
import itertools
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image

from bench.visitor import Caller, sketch_pngs
from harness.app_driver import run_rows, serve_app
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS
from webapp.training.form import TRAIN_TAB, train_args

SKETCHES = 16              # distinct pen digits cycled through by the callers


@dataclass
class Case:
    load: str                       # "idle" or "training"
    endpoint: str                   # "/noop" or "/predict"
    callers: int
    latencies: list[float] = field(default_factory=list)   # s, of the requests that succeeded
    errors: list[str] = field(default_factory=list)
    empty_views: int = 0            # answers whose downloaded view was missing, cut short or not a PNG
    seconds: float = 0.0            # wall time of the case
    epoch_seconds: float | None = None   # training cases: one epoch run wholly under this load

    def ms(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else float("nan")

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


@dataclass
class Report:
    cases: list[Case]
    unloaded_epochs: list[float]    # s, epochs of the training run with no prediction load

    def find(self, load: str, endpoint: str, callers: int) -> Case | None:
        return next((c for c in self.cases if (c.load, c.endpoint, c.callers) == (load, endpoint, callers)), None)

    @property
    def unloaded_epoch(self) -> float:
        return float(np.median(self.unloaded_epochs)) if self.unloaded_epochs else float("nan")


class TrainingRun:
    """A /train call in the background, noting when each epoch's update arrives."""

    def __init__(self, url: str, config: dict):
        self.caller = Caller(url)
        self.epoch_ends: list[float] = []    # perf_counter when epoch i + 1's valid loss reached us
        self.error: Exception | None = None
        self.ended = False
        self.leaving = threading.Event()
        self.changed = threading.Condition()
        self.follower = threading.Thread(target=self._follow, args=(train_args(config),))
        self.follower.start()

    def _follow(self, args: list) -> None:
        try:
            for _, outputs in self.caller.stream("/train", args):
                with self.changed:
                    while len(self.epoch_ends) < len(run_rows(outputs[3])):   # valid loss: a row per epoch
                        self.epoch_ends.append(time.perf_counter())
                    self.changed.notify_all()
                if self.leaving.is_set():
                    break         # leaving the stream disconnects: the server cancels the run, as for a closed tab
        except Exception as e:    # reported by wait_epochs and stop
            self.error = e
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_epochs(self, n: int, timeout: float) -> None:
        """Wait until n epochs have ended; raise if the run failed, ended or the time ran out first."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.epoch_ends) >= n or self.ended, timeout)
        if len(self.epoch_ends) < n:
            raise RuntimeError(f"the training run did not reach epoch {n} in {timeout:.0f} s: {self.error}")

    def stop(self, timeout: float) -> None:
        """Leave the run as a visitor closing the tab does (/stop would need this session's one stream)."""
        self.leaving.set()
        self.follower.join(timeout)
        self.caller.close()
        if self.follower.is_alive() or self.error:
            raise RuntimeError(f"the training stream did not end cleanly: {self.error or 'still open'}")


def hammer(callers: list[Caller], endpoint: str, sketches: list[dict], case: Case, requests: int,
           until=lambda: False, views: bool = False) -> Case:
    """`case.callers` closed-loop callers until `requests` were sent in all or `until()` is true; with
    `views`, each answer's view is downloaded too and checked."""
    sent = itertools.count()
    lock = threading.Lock()

    def loop(c: Caller) -> None:
        while not until():
            with lock:
                n = next(sent)
            if n >= requests:
                return
            started = time.perf_counter()
            try:
                outputs = c.draw(endpoint, sketches[n % len(sketches)])
                if views and not whole_png(c.view(outputs)):
                    with lock:
                        case.empty_views += 1
            except Exception as e:    # any failure, from gr.Error to a timeout, is what this bench counts
                with lock:
                    case.errors.append(f"{type(e).__name__}: {e}")
            else:
                with lock:
                    case.latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=loop, args=(c,)) for c in callers[:case.callers]]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    case.seconds = time.perf_counter() - started
    return case


def run(callers: tuple[int, ...] = (1, 8, 32), requests: int = 300, case_seconds: float = 120.0,
        train_config: dict | None = None, quiet_epochs: int = 2, mnist_root: str | None = None,
        pen_digits: str | None = None, log=print, views: bool = False, training: bool = True,
        sketches: int = SKETCHES) -> Report:
    """Run every case against one server and return the measurements. `requests` bounds each idle case;
    a training case lasts until one whole epoch ran under its load, or `case_seconds`. `views`: download
    and check every answer's view; `training`: the cases under a training run too; `sketches`: distinct
    drawings cycled through (1: every caller sends the same one)."""
    # The Train tab's defaults, but 100 epochs: the run must outlast the cases; the bench then leaves it.
    config = {**asdict(TRAIN_TAB), "epochs": 100, **(train_config or {})}
    digits = load_pen_digits(pen_digits)[:sketches]
    with tempfile.TemporaryDirectory() as tmp:
        # Every caller comes from this one host and stands for another visitor: the per-client upload
        # allowance (webapp.guards.limits.UPLOAD_MB_PER_MINUTE) would throttle them as one.
        env = {"RUNS_DIR": tmp, "PEN_DIGITS": str(pen_digits or ""), "MNIST_ROOT": str(mnist_root or ""),
               "UPLOAD_MB_PER_MINUTE": "1000000"}
        with serve_app({k: v for k, v in env.items() if v}, args=("-m", "bench.floor_app")) as url:
            return _measure(url, digits, callers, requests, case_seconds, config if training else None,
                            quiet_epochs, log, views)


def _measure(url: str, digits, callers, requests, case_seconds, config, quiet_epochs, log, views) -> Report:
    sketches = [sketch_pngs(render_sketchpad(d, CANVAS, seed=i)) for i, d in enumerate(digits)]
    clients = [Caller(url) for _ in range(max(callers))]
    try:
        for c in clients:     # warm-up: each caller's first call opens its connection, untimed
            c.draw("/predict", sketches[0])
        cases = []
        for endpoint in ("/noop", "/predict"):
            for n in callers:
                cases.append(hammer(clients, endpoint, sketches, Case("idle", endpoint, n), requests,
                                    until=_deadline(case_seconds), views=views))
                log(_row(cases[-1]))
        if config is None:
            return Report(cases, [])
        training = TrainingRun(url, config)
        try:
            training.wait_epochs(1 + quiet_epochs, case_seconds * (1 + quiet_epochs))
            ends = training.epoch_ends    # the first epoch is left out: it pays for warm-up
            unloaded = [b - a for a, b in zip(ends[:quiet_epochs], ends[1:quiet_epochs + 1])]
            log(f"unloaded epochs: {', '.join(f'{s:.2f} s' for s in unloaded)}")
            for n in callers:
                first = len(training.epoch_ends)    # epoch `first + 2` starts and ends under load
                deadline = _deadline(case_seconds)
                case = hammer(clients, "/predict", sketches, Case("training", "/predict", n), 10**9,
                              until=lambda: len(training.epoch_ends) >= first + 2 or deadline(), views=views)
                if len(training.epoch_ends) >= first + 2:
                    case.epoch_seconds = training.epoch_ends[first + 1] - training.epoch_ends[first]
                cases.append(case)
                log(_row(case))
        finally:
            training.stop(case_seconds)
    finally:
        for c in clients:
            c.close()
    return Report(cases, unloaded)


def _deadline(seconds: float):
    end = time.perf_counter() + seconds
    return lambda: time.perf_counter() > end


HEADER = ("| load | endpoint | callers | requests | errors | empty views | p50 ms | p95 ms | p99 ms | req/s "
          "| epoch s |\n|---|---|---|---|---|---|---|---|---|---|---|")


def _row(c: Case) -> str:
    epoch = f"{c.epoch_seconds:.2f}" if c.epoch_seconds is not None else "-"
    return (f"| {c.load} | {c.endpoint} | {c.callers} | {len(c.latencies) + len(c.errors)} | {len(c.errors)} | "
            f"{c.empty_views} | {c.ms(50):.0f} | {c.ms(95):.0f} | {c.ms(99):.0f} | {c.throughput:.1f} | {epoch} |")


def goals(r: Report) -> list[tuple[str, float, float, bool]]:
    """(goal, measured, limit, met) for each goal whose cases were run."""
    out = []
    for n in (1, 8):
        floor, pred = r.find("idle", "/noop", n), r.find("idle", "/predict", n)
        if floor and pred:
            ratio = pred.ms(50) / floor.ms(50)
            out.append((f"idle p50 /predict / /noop, {n} caller(s)", ratio, 1.5, ratio <= 1.5))
    idle, busy = r.find("idle", "/predict", 8), r.find("training", "/predict", 8)
    if idle and busy:
        ratio = busy.ms(95) / idle.ms(95)
        out.append(("p95 training / idle, 8 callers", ratio, 3.0, ratio <= 3.0))
        if busy.epoch_seconds is not None:
            ratio = busy.epoch_seconds / r.unloaded_epoch
            out.append(("epoch time under 8 callers / unloaded", ratio, 1.5, ratio <= 1.5))
    for c in r.cases:
        if c.callers >= 32:
            failed = len(c.errors) + c.empty_views
            out.append((f"failed requests and empty views, {c.callers} callers, {c.load} {c.endpoint}", failed, 0,
                        not failed))
    return out


def whole_png(data: bytes) -> bool:
    """True when `data` is a PNG that decodes to its end."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.load()
        return True
    except Exception:       # noqa: BLE001 - any failure to decode is what the bench counts
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--callers", type=int, nargs="+", default=[1, 8, 32], help="concurrent callers per case")
    ap.add_argument("--requests", type=int, default=300, help="requests per idle case")
    ap.add_argument("--case-seconds", type=float, default=120.0, help="time limit per case")
    ap.add_argument("--batch-size", type=int, default=TRAIN_TAB.batch_size, help="the background run's batch size")
    ap.add_argument("--no-augment", action="store_true", help="train the background run without augmentation")
    ap.add_argument("--quiet-epochs", type=int, default=2, help="epochs timed with no prediction load")
    ap.add_argument("--views", action="store_true", help="download and check each answer's 28 x 28 view")
    ap.add_argument("--idle", action="store_true", help="only the idle cases (no training run)")
    ap.add_argument("--sketches", type=int, default=SKETCHES, help="distinct drawings the callers cycle through")
    args = ap.parse_args()
    print(HEADER)
    report = run(tuple(args.callers), args.requests, args.case_seconds,
                 {"batch_size": args.batch_size, "augment": not args.no_augment}, args.quiet_epochs,
                 views=args.views, training=not args.idle, sketches=args.sketches)
    if report.unloaded_epochs:
        print(f"\nunloaded epoch (median of {len(report.unloaded_epochs)}): {report.unloaded_epoch:.2f} s\n")
    for name, measured, limit, met in goals(report):
        print(f"{'met    ' if met else 'NOT MET'}  {name}: {measured:.2f} (goal <= {limit:g})")
    for c in report.cases:
        for e in sorted(set(c.errors))[:3]:
            print(f"error ({c.load} {c.endpoint} {c.callers}): {e[:300]}")


if __name__ == "__main__":
    main()
