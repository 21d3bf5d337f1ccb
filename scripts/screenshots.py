"""Screenshots of both tabs of the running app for the README, taken in headless Chromium:
a real pen digit drawn with mouse strokes in the Draw tab, then a short run trained in the Train tab.

    python scripts/screenshots.py                  # starts app.py itself (runs saved to a temp folder)
    python scripts/screenshots.py --url http://127.0.0.1:7860/ --out docs

Needs MNIST (MNIST_ROOT) for the training run and the pen digits (PEN_DIGITS, else data/pen_digits/)."""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run as a script from anywhere

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.app_driver import (  # noqa: E402
    REPO,
    draw_digit,
    launch_chromium,
    open_app,
    seen_src,
    serve_app,
    wait_for_prediction,
)
from train.pen_digits import load_pen_digits  # noqa: E402

RUN = {"Epochs": 6, "Batch size": 512}   # short enough to wait for (~10-60 s), long enough to show an lr drop
DIGIT_ID = "yannis35.dat#842"            # a pen-drawn 5 of the dev set, read correctly by the shipped model


def set_number(page, label: str, value: float) -> None:
    """Type into the number box of the input whose label starts with `label` (case-sensitive)."""
    block = page.locator(".block", has=page.get_by_text(re.compile("^" + re.escape(label)))).first
    box = block.locator("input[type=number]").first
    box.fill(str(value))
    box.press("Enter")


def take(url: str, out: Path) -> list[Path]:
    """Draw, train, and save docs PNGs of both tabs; returns their paths."""
    digit = next(d for d in load_pen_digits() if d.id == DIGIT_ID)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = open_app(browser, url)
        before = seen_src(page)
        draw_digit(page, digit.strokes)
        wait_for_prediction(page, before)
        page.screenshot(path=out / "draw.png", full_page=True)

        page.get_by_role("tab", name="Train").click()
        for label, value in RUN.items():
            set_number(page, label, value)
        page.get_by_role("checkbox", name="Augment").uncheck()
        page.get_by_role("button", name="Train", exact=True).click()
        page.get_by_role("heading", name="Test accuracy").wait_for(timeout=600_000)
        time.sleep(1)                                        # let the last plot update render
        page.screenshot(path=out / "train.png", full_page=True)
        browser.close()
    return [out / "draw.png", out / "train.png"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start app.py on a free port)")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the PNGs (default: docs/)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as runs:
        server = nullcontext(args.url) if args.url else serve_app({"RUNS_DIR": runs})
        with server as url:
            for path in take(url, args.out):
                print(path)


if __name__ == "__main__":
    main()
