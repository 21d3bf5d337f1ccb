"""The Draw tab's "Look inside" view in a real browser (Playwright driving Debian's Chromium): after a
drawn digit, opening the view shows every layer, the strokes for the answer, the 8 nearest training
digits and the first unit's weights; tapping a cell of the layers picture chooses that unit (its
strongest inputs, or a first-layer unit's weights); the runner-up's strokes come on request; the next
digit updates the view; on a touch phone a finger does the same. Screenshots land in test-artifacts/.
Skipped without Chromium unless REQUIRE_BROWSER=1."""
from __future__ import annotations

import json

import pytest

from harness.app_driver import PHONE, clear_canvas, draw_digit, open_app, wait_for_prediction
from harness.look_inside import open_look_inside, tap_unit
from tests.browser import ARTIFACTS, require_chromium
from train.pen_digits import load_pen_digits

require_chromium()



@pytest.fixture(scope="module")
def one_stroke(pen_digits_path):
    """One-stroke pen digits by label (an answer is then the answer to the whole digit)."""
    digits = {}
    for digit in load_pen_digits(pen_digits_path):
        if len(digit.strokes) == 1:
            digits.setdefault(digit.label, digit)
    return digits


def math_says(page, words: str) -> None:
    page.locator("#inside-math", has_text=words).wait_for(timeout=30_000)


def test_look_inside_on_a_desktop(app, one_stroke):
    page = open_app(*app)
    calls = []
    page.on("request", lambda r: calls.append(json.loads(r.post_data or "{}").get("fn_index"))
            if "/queue/join" in r.url else None)
    draw_digit(page, one_stroke[7].strokes)
    label = wait_for_prediction(page)
    page.wait_for_timeout(1000)
    followers = page.evaluate("() => window.gradio_config.dependencies"
                              ".filter(d => (d.api_name || '').startsWith('look_inside')).map(d => d.id)")
    assert calls and followers and not set(calls) & set(followers)   # closed: the server is not even asked
    open_look_inside(page)
    assert page.locator("#inside-why figcaption").inner_text().startswith(f"Why {label}:")
    assert page.locator("#inside-why img").count() == 1 and page.locator("#inside-neighbours figcaption").count() == 8
    math_says(page, "Layer 1, unit 0")
    assert page.locator("#inside-first img").count() == 2          # its weights and their product with the drawing
    first_weights = page.locator("#inside-first img").first.get_attribute("src")

    tap_unit(page, 1, 25)
    math_says(page, "Layer 2, unit 25")
    assert page.locator("#inside-math tr").count() == 9             # a header and its 8 strongest inputs
    assert page.locator("#inside-first img").count() == 0
    assert page.locator("#inside-layer input").input_value().startswith("Layer 2")
    tap_unit(page, 0, 37)
    math_says(page, "Layer 1, unit 37")
    page.locator("#inside-first img").nth(1).wait_for()
    assert page.locator("#inside-first img").first.get_attribute("src") != first_weights
    assert page.locator("#inside-unit input").input_value() == "37"

    page.locator("#inside-versus input").check()
    page.locator("#inside-why-not img").wait_for(timeout=30_000)
    assert f"Why {label} and not" in page.locator("#inside-why-not figcaption").inner_text()
    page.screenshot(path=ARTIFACTS / "look-inside.png", full_page=True)

    clear_canvas(page)
    page.locator(".digit.empty").wait_for(timeout=30_000)
    draw_digit(page, one_stroke[3].strokes)
    second = wait_for_prediction(page)
    page.locator("#inside-why figcaption", has_text=f"Why {second}:").wait_for(timeout=30_000)
    math_says(page, "Layer 1, unit 37")                            # the chosen unit, for the new drawing


def test_look_inside_on_a_phone(app, one_stroke):
    page = open_app(*app, device=PHONE)
    draw_digit(page, one_stroke[2].strokes, pointer="finger")
    wait_for_prediction(page)
    open_look_inside(page, touch=True)
    layers = page.locator("img.inside-layers").bounding_box()
    assert layers["width"] <= 390 and layers["width"] >= 300      # fits the screen, cells a fingertip wide
    tap_unit(page, 3, 10, touch=True)
    math_says(page, "Layer 4, unit 10")
    page.locator("#inside-math").scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "look-inside-phone.png")
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= 390                                       # nothing wider than the phone
