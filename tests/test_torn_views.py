"""Many visitors drawing the same thing at once, against the running app over HTTP: every answer's
28 x 28 view downloads whole. (With gr.Image's own cache writes, one answer rewrote the file another
was downloading: about one call in ten ended early or came back empty at 32 callers.)"""
from __future__ import annotations

import threading

from bench.serve_load import whole_png
from bench.visitor import Caller, sketch_pngs
from harness.app_driver import serve_app
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS

CALLERS = 32
ROUNDS = 3


def test_concurrent_identical_answers_download_whole(pen_digits_path, tmp_path):
    pngs = sketch_pngs(render_sketchpad(load_pen_digits(pen_digits_path)[0], CANVAS))
    views, failures = [], []
    lock = threading.Lock()
    env = {"RUNS_DIR": str(tmp_path), "UPLOAD_MB_PER_MINUTE": "100000"}   # 32 visitors from one address
    with serve_app(env) as url:
        callers = [Caller(url) for _ in range(CALLERS)]

        def visit(caller: Caller) -> None:
            for _ in range(ROUNDS):
                try:
                    view = caller.view(caller.draw("/predict", pngs))
                except Exception as e:      # noqa: BLE001 - a cut-short download is one of the failures counted
                    with lock:
                        failures.append(f"{type(e).__name__}: {e}")
                else:
                    with lock:
                        views.append(view)

        threads = [threading.Thread(target=visit, args=(c,)) for c in callers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in callers:
            c.close()
    assert not failures, failures[:3]
    assert len(views) == CALLERS * ROUNDS
    assert all(whole_png(v) for v in views)
    assert len(set(views)) == 1          # the same drawing, the same view, byte for byte
