"""Stroke to answer: seconds from the end of a stroke (mouse button up, finger or stylus lifted)
to the predicted digit on the page, in headless Chromium against `python app.py`: on a desktop-sized page
with the mouse, on a 390 x 844 touch phone with a finger and with a stylus. Each page is fresh and its
first action is a one-stroke pen digit (the stroke a fresh page once left unanswered); then Clear and a
second digit.

    python -m bench.stroke_latency                  # starts app.py itself; 2 fresh pages per device
    python -m bench.stroke_latency --pages 3 --url http://127.0.0.1:7860/

Chromium draws the pad in software here (no GPU), so these times include the browser's own export of
the canvas; a phone's GPU does that faster."""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import nullcontext

from playwright.sync_api import sync_playwright

from harness.app_driver import DESKTOP, PHONE, clear_canvas, draw_digit, launch_chromium, open_app, serve_app
from train.pen_digits import load_pen_digits

ANSWERED = "() => document.querySelector('.digit:not(.empty)') !== null"
EMPTY = "() => document.querySelector('.digit.empty') !== null"
TIMEOUT = 120_000    # ms; an answer slower than this fails the bench


def one_stroke_digits(n: int) -> list:
    """n one-stroke pen digits of different labels (0, 1, 2, 3, 6, 7, 8 and 9 are often one stroke)."""
    picked, labels = [], set()
    for digit in load_pen_digits():
        if len(digit.strokes) == 1 and digit.label not in labels:
            picked.append(digit)
            labels.add(digit.label)
        if len(picked) == n:
            return picked
    raise ValueError(f"fewer than {n} one-stroke digits of distinct labels in the dev set")


def stroke_to_answer(page, digit, pointer: str) -> float:
    """Draw `digit`, return seconds from its last stroke's end to a predicted digit on the page."""
    draw_digit(page, digit.strokes, pointer)
    ended = time.perf_counter()
    page.wait_for_function(ANSWERED, polling=50, timeout=TIMEOUT)
    return time.perf_counter() - ended


def measure(browser, url: str, device: dict, pointer: str, pages: int, digits: list) -> dict[str, list[float]]:
    """Per fresh page: the first stroke's latency, then Clear and a second digit's."""
    times = {"first stroke on a fresh page": [], "after Clear": []}
    for i in range(pages):
        page = open_app(browser, url, device)
        times["first stroke on a fresh page"].append(stroke_to_answer(page, digits[2 * i], pointer))
        clear_canvas(page)
        page.wait_for_function(EMPTY, polling=50, timeout=TIMEOUT)
        times["after Clear"].append(stroke_to_answer(page, digits[2 * i + 1], pointer))
        page.context.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start app.py on a free port)")
    parser.add_argument("--pages", type=int, default=2, help="fresh pages per device (default: 2)")
    args = parser.parse_args()
    digits = one_stroke_digits(2 * args.pages)
    print("| page | input | stroke | n | median s | min s | max s |\n| --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as runs:
        with (nullcontext(args.url) if args.url else serve_app({"RUNS_DIR": runs})) as url, \
                sync_playwright() as pw:
            browser = launch_chromium(pw)
            for name, device, pointer in (("desktop 1280 x 1100", DESKTOP, "mouse"),
                                          ("phone 390 x 844", PHONE, "finger"), ("phone 390 x 844", PHONE, "pen")):
                for case, ts in measure(browser, url, device, pointer, args.pages, digits).items():
                    print(f"| {name} | {pointer} | {case} | {len(ts)} | "
                          f"{statistics.median(ts):.1f} | {min(ts):.1f} | {max(ts):.1f} |", flush=True)
            browser.close()


if __name__ == "__main__":
    main()
