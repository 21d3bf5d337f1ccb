"""Screenshots of the running app for the README, taken in headless Chromium: a real pen digit drawn
with mouse strokes in the Draw tab, then a run of the Train tab's defaults that follows it, stopped
after two epochs; the same digit drawn with a finger on a 390 x 844 phone; the Draw tab in a Russian
browser; and the Look inside view on a desktop and on the phone.

    python scripts/screenshots.py                  # starts app.py itself (runs saved to a temp folder)
    python scripts/screenshots.py --url http://127.0.0.1:7860/ --out docs
    python scripts/screenshots.py --only phone russian     # docs/phone.png and docs/draw_ru.png only
    python scripts/screenshots.py --only inside inside-phone   # docs/look-inside.png, docs/look-inside-phone.png

Needs MNIST (MNIST_ROOT) for the training run and the pen digits (PEN_DIGITS, else data/pen_digits/)."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # run as a script from anywhere

from playwright.sync_api import sync_playwright  # noqa: E402

from harness.app_driver import (  # noqa: E402
    DESKTOP,
    PHONE,
    REPO,
    draw_digit,
    launch_chromium,
    open_app,
    serve_app,
    wait_for_prediction,
)
from harness.look_inside import open_look_inside, tap_unit  # noqa: E402
from train.pen_digits import load_pen_digits  # noqa: E402

DIGIT_ID = "yannis35.dat#842"            # a pen-drawn 5 of the dev set, read correctly by the shipped model


def tabs(browser, url: str, out: Path, digit) -> list[Path]:
    """The digit drawn with the mouse in the Draw tab; then a run of the Train tab's defaults following
    it, stopped after its second epoch, with everything the tab shows at the end."""
    page = open_app(browser, url)
    draw_digit(page, digit.strokes)
    wait_for_prediction(page)
    page.screenshot(path=out / "draw.png", full_page=True)

    page.get_by_role("tab", name="Train").click()
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("· 2:").wait_for(timeout=600_000)              # the drawing read after epoch 2
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("heading", name="Test accuracy").wait_for(timeout=600_000)
    page.wait_for_function("() => document.querySelectorAll('#misread img').length >= 16", timeout=60_000)
    page.locator("#confusion img").wait_for(timeout=60_000)
    time.sleep(1)                                        # let the last plot update render
    page.screenshot(path=out / "train-stopped.png", full_page=True)
    return [out / "draw.png", out / "train-stopped.png"]


def drawn(browser, url: str, out: Path, digit, name: str, device: dict, locale: str) -> list[Path]:
    """The digit drawn on a fresh page: with a finger on a touch screen, else with the mouse."""
    page = open_app(browser, url, device, locale)
    touch = bool(device.get("has_touch"))
    draw_digit(page, digit.strokes, pointer="finger" if touch else "mouse")
    wait_for_prediction(page)
    page.screenshot(path=out / name, full_page=not touch)     # a phone: what is on its screen
    page.context.close()
    return [out / name]


def look_inside(browser, url: str, out: Path, digit, device: dict) -> list[Path]:
    """The digit drawn, the Look inside view opened and a unit chosen by a tap: on a desktop the whole view
    with the runner-up's strokes; on a phone what its screen shows of the layers and the unit."""
    page = open_app(browser, url, device)
    touch = bool(device.get("has_touch"))
    draw_digit(page, digit.strokes, pointer="finger" if touch else "mouse")
    wait_for_prediction(page)
    open_look_inside(page, touch)
    tap_unit(page, 0, 57, touch)
    page.locator("#inside-math", has_text="unit 57").wait_for(timeout=30_000)
    if touch:
        name = "look-inside-phone.png"
        page.evaluate("() => document.querySelector('#inside-math').scrollIntoView({block: 'end'})")
        page.screenshot(path=out / name)
    else:
        name = "look-inside.png"
        page.locator("#inside-versus input").check()
        page.locator("#inside-why-not img").wait_for(timeout=30_000)
        time.sleep(1)
        page.locator("#inside").screenshot(path=out / name)
    page.context.close()
    return [out / name]


SHOTS = {"tabs": tabs,
         "phone": lambda *a: drawn(*a, name="phone.png", device=PHONE, locale="en-US"),
         "russian": lambda *a: drawn(*a, name="draw_ru.png", device=DESKTOP, locale="ru-RU"),
         "inside": lambda *a: look_inside(*a, device=DESKTOP),
         "inside-phone": lambda *a: look_inside(*a, device=PHONE)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start app.py on a free port)")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the PNGs (default: docs/)")
    parser.add_argument("--only", nargs="+", choices=list(SHOTS), default=list(SHOTS),
                        help="which screenshots to take (default: all)")
    args = parser.parse_args()
    digit = next(d for d in load_pen_digits() if d.id == DIGIT_ID)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as runs:
        server = nullcontext(args.url) if args.url else serve_app({"RUNS_DIR": runs})
        with server as url, sync_playwright() as pw:
            browser = launch_chromium(pw)
            for shot in args.only:
                for path in SHOTS[shot](browser, url, args.out, digit):
                    print(path)
            browser.close()


if __name__ == "__main__":
    main()
