"""Drive the real app from outside, as people and clients do: start `python app.py` on a free port,
open it in headless Chromium (desktop or touch phone), draw pen digits with real mouse, finger or
stylus strokes, read what the page shows.
Used by the app's tests, the benches and scripts/screenshots.py."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")   # Debian's package; never a downloaded browser
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
POINTS_PER_STROKE = 16   # each mouse move costs ~0.5 s of WebGL drawing in software; 16 keep a digit's shape
DIGIT_HEIGHT = 0.6       # drawn digit height as a fraction of the drawing area
LOAD_TIMEOUT = 60.0      # s to wait for the pad's initial value to load (see open_app)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(env: dict[str, str] | None = None, timeout: float = 90.0,
              args: tuple[str, ...] = ("app.py",)) -> Iterator[str]:
    """Run `python app.py` (or `python *args`, e.g. ("-m", "bench.floor_app")) on a free local port with
    `env` added; yield its URL; stop it afterwards."""
    with serve_app_process(env, timeout, args) as (url, _):
        yield url


@contextmanager
def serve_app_process(env: dict[str, str] | None = None, timeout: float = 90.0,
                      args: tuple[str, ...] = ("app.py",)) -> Iterator[tuple[str, subprocess.Popen]]:
    """As serve_app, yielding the URL and the server's process (whose memory a test may read)."""
    port = free_port()
    full_env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=full_env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "gradio_api/info", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"app.py did not answer at {url} within {timeout:.0f} s") from None
                time.sleep(0.3)
        yield url, proc
    finally:
        stop_process(proc)
        log.close()


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Ask `proc` to exit, and kill it if it has not within `grace` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sketch_files(value: dict, folder: str | os.PathLike) -> dict:
    """A numpy sketchpad value as the dict of PNG files that gradio_client uploads."""
    from gradio_client import handle_file

    folder = Path(tempfile.mkdtemp(dir=folder))

    def save(name: str, image: np.ndarray | None):
        if image is None:
            return None
        path = folder / f"{name}.png"
        Image.fromarray(image).save(path)
        return handle_file(str(path))

    return {"background": save("background", value["background"]),
            "layers": [save(f"layer{i}", layer) for i, layer in enumerate(value["layers"])],
            "composite": save("composite", value["composite"])}


def launch_chromium(playwright):
    """Headless Debian Chromium with a fresh profile."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# Logs each new "what the model saw" image with its time on the page's clock, for wait_for_prediction;
# and room for every request's timing (the browser's default buffer of 250 fills during a test).
SEEN_LOG = """
performance.setResourceTimingBufferSize(100000);
window.seen_log = [];
new MutationObserver(() => {
    const img = document.querySelector('#seen img'), src = img ? img.getAttribute('src') : null;
    const log = window.seen_log;
    if (!log.length || log[log.length - 1].src !== src) log.push({t: performance.now(), src});
}).observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
"""
DESKTOP = dict(viewport={"width": 1280, "height": 1100})
PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)   # a 6.1" phone


def open_app(browser, url: str, device: dict = DESKTOP, locale: str = "en-US"):
    """A fresh page showing the app with the sketchpad ready (its brush chosen), on a desktop-sized screen
    or a touch phone, in `locale` (aria-labels are translated: the brush is "Brush" only in English)."""
    page = browser.new_context(locale=locale, **device).new_page()
    page.add_init_script(SEEN_LOG)
    calls = []
    page.on("request", lambda r: calls.append(json.loads(r.post_data or "{}").get("fn_index"))
            if "/queue/join" in r.url else None)
    page.goto(url)
    page.wait_for_selector(".pixi-target canvas", timeout=60_000)
    brush = 'button[aria-label="Brush"]' if locale.startswith("en") else "button[aria-label]"
    page.wait_for_selector(brush + ".highlight", timeout=30_000)
    # The pad is drawable before its initial value has loaded, and that load ends with a /predict call
    # (webapp.draw.tab.blank_sketch). In software WebGL it can take seconds, and a stroke drawn meanwhile
    # gets a prediction of its first half before its own: wait for that call, as a person waits for
    # the page to settle.
    predict = page.evaluate("() => window.gradio_config.dependencies.find(d => d.api_name === 'predict').id")
    deadline = time.monotonic() + LOAD_TIMEOUT
    while predict not in calls and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return page


def drawing_area(page) -> tuple[float, float, float]:
    """(left, top, side) of the drawable square on screen: the canvas element covers the whole
    component, and the drawing is its CANVAS pixels times the zoom shown, centred."""
    canvas = page.evaluate("() => window.gradio_config.components"
                           ".find(c => c.type === 'imageeditor').props.canvas_size[0]")
    box = page.locator(".pixi-target canvas").first.bounding_box()
    zoom = float(page.locator(".zoom-number").first.inner_text().strip().rstrip("%")) / 100
    side = canvas * zoom
    return box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2, side


def subsample(stroke, n: int = POINTS_PER_STROKE) -> list[tuple[float, float]]:
    """At most n points along the stroke, evenly by index, first and last kept."""
    idx = np.unique(np.linspace(0, len(stroke) - 1, min(n, len(stroke))).round().astype(int))
    return [stroke[i] for i in idx]


def draw_digit(page, strokes, pointer: str = "mouse") -> None:
    """Draw unit-square strokes (x right, y down), centred and DIGIT_HEIGHT tall, as drags of `pointer`:
    "mouse", "finger" (touch events) or "pen" (a stylus's pointer events). Each move is awaited: moves
    sent together are merged by Chrome into straight lines."""
    left, top, side = drawing_area(page)
    points = np.concatenate([np.asarray(s, float) for s in strokes])
    lo, hi = points.min(0), points.max(0)
    scale = DIGIT_HEIGHT * side / max(hi[1] - lo[1], (hi[0] - lo[0]) * 0.8, 1e-6)
    centre = (lo + hi) / 2

    def screen(p) -> tuple[float, float]:
        return left + side / 2 + (p[0] - centre[0]) * scale, top + side / 2 + (p[1] - centre[1]) * scale

    # Playwright's touchscreen only taps and its mouse is only a mouse: a finger or a pen goes through CDP.
    cdp = page.context.new_cdp_session(page) if pointer != "mouse" else None
    for stroke in strokes:
        pts = [screen(p) for p in subsample(stroke)]
        moves = pts[1:] if len(pts) > 1 else [(pts[0][0] + 1, pts[0][1] + 1)]
        if pointer == "finger":
            for kind, (x, y) in [("touchStart", pts[0])] + [("touchMove", p) for p in moves]:
                cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        elif pointer == "pen":
            pen = {"pointerType": "pen", "button": "left", "clickCount": 1, "force": 0.5}
            for kind, (x, y) in [("mousePressed", pts[0])] + [("mouseMoved", p) for p in moves]:
                cdp.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "buttons": 1, **pen})
            cdp.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": moves[-1][0], "y": moves[-1][1],
                                                  "buttons": 0, **pen})
        else:
            page.mouse.move(*pts[0])
            page.mouse.down()
            for x, y in moves:
                page.mouse.move(x, y)
            page.mouse.up()


def clear_canvas(page, pointer: str = "mouse") -> None:
    """Press the pad's own Clear (a tap for a finger), as a visitor does, and wait until the brush is
    chosen again (the app does that; a visitor never picks it)."""
    clear = page.locator('#pad button[aria-label="Clear canvas"]').first
    clear.tap() if pointer == "finger" else clear.click()
    page.wait_for_selector('#pad button[aria-label="Brush"].highlight', timeout=10_000)


def wait_for_prediction(page, settle: float = 1.5, timeout: float = 60.0) -> str:
    """Wait for the answer to the last stroke drawn: a /predict call made after it, a new 28 x 28 view
    shown after that call, and no change for `settle` seconds; return the predicted label the page shows.
    (Predictions of earlier strokes can arrive after a later stroke ends: waiting for any change is not
    enough.) Times come from the page's own clock: its resource timing and the SEEN_LOG of open_app."""
    page.wait_for_function("""([ended, settle]) => {
        const calls = performance.getEntriesByType('resource')
            .filter(e => e.name.includes('/queue/join') && e.startTime > ended);
        const log = window.seen_log;
        if (!calls.length || !log.length) return false;
        const shown = log.filter(s => s.src && s.t > calls[calls.length - 1].startTime);
        return shown.length > 0 && performance.now() - log[log.length - 1].t > settle; }""",
                           arg=[page.evaluate("performance.now()"), settle * 1000], polling=200,
                           timeout=timeout * 1000)
    return page.locator(".digit").first.inner_text().strip()


def reference_sketch(pen_digits_path: str | os.PathLike, folder: str | os.PathLike) -> tuple[dict, list[float]]:
    """A pen digit as the files the pad uploads, and the in-process recognizer's probabilities for it."""
    from mnist_model import DigitRecognizer
    from train.pen_digits import load_pen_digits, render_sketchpad
    from webapp.draw import CANVAS

    value = render_sketchpad(load_pen_digits(pen_digits_path)[0], canvas=CANVAS)
    return sketch_files(value, folder), DigitRecognizer.load().predict(value).probabilities


def still_serving(client, reference: tuple[dict, list[float]]) -> None:
    """The server, through gradio_client `client`, still reads `reference` as the recognizer does."""
    files, expected = reference
    label, *_ = client.predict(files, api_name="/predict")
    got = {int(row["label"]): row["confidence"] for row in label["confidences"]}
    np.testing.assert_allclose([got[d] for d in range(10)], expected, atol=1e-5)


def run_rows(plot: dict) -> list[list]:
    """The rows of a /train plot output ({"value": {"columns", "data"}, ...}) that belong to the caller's runs
    (named "#1 ...", "#2 ..."), without the shipped model's reference drawn beside them."""
    return [row for row in plot["value"]["data"] if str(row[-1]).startswith("#")]
