"""The app in a real browser (Playwright driving Debian's Chromium), used as a person uses it:
pen digits drawn with mouse strokes are read correctly, the first one a one-stroke digit drawn as the
fresh page's first action; on a touch phone a finger's first stroke is answered with the pad and the
answer on screen together, and after a tap on Clear the next digit is drawn and answered at once
(the brush is kept); an answer never outlives the drawing it was made for; a Russian browser gets a
Russian page; Clear brings back the empty state; a click under the answer stores the drawing with the digit chosen; Train fills the plots, Stop ends
the run, and its model goes to the Draw tab in one click; a drawn 7 is read anew after every epoch,
and after Stop the confusion matrix, the misread digits and the first layer's weights are on the page.
Screenshots land in test-artifacts/. Skipped without Chromium unless REQUIRE_BROWSER=1."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.app_driver import PHONE, clear_canvas, draw_digit, drawing_area, open_app, wait_for_prediction
from tests.browser import ARTIFACTS, require_chromium, served_with_browser
from train.pen_digits import load_pen_digits
from webapp.training.compare import shipped_history

DIGITS = 3             # each costs ~5-20 s of software WebGL; bulk accuracy is tested through the API

require_chromium()


# The points the `i`-th plot draws for the visitor's runs: its lines' SVG vertices, less those of the
# shipped model's history drawn beside them (a point per epoch).
RUN_POINTS = f"""i => [...(document.querySelectorAll('.vega-embed')[i]?.querySelectorAll('g.mark-line path') || [])]
    .reduce((n, p) => n + (p.getAttribute('d') || '').split(/[ML]/).length - 1, 0) - {len(shipped_history()[1])}"""


def line_points(page, plot: int) -> int:
    """How many points the `plot`-th line plot on the page draws for the visitor's runs."""
    return page.evaluate(RUN_POINTS, plot)


@pytest.fixture(scope="module")
def feedback(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("feedback")


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory, feedback):
    """(browser, url): the app served once for this module, and a Chromium to open fresh pages in."""
    runs = tmp_path_factory.mktemp("runs")
    env = {"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(runs), "FEEDBACK_DIR": str(feedback)}
    with served_with_browser(env) as app:
        yield app


@pytest.fixture(scope="module")
def page(app):
    """One fresh desktop page, shared by the tests below in order."""
    return open_app(*app)


def test_drawn_pen_digits_are_read(page, pen_digits_path):
    # One-stroke digits of distinct labels, the first drawn as the fresh page's first action. One stroke
    # each, because under heavy load a first stroke's answer can arrive seconds after a second stroke
    # ends, and nothing on the page tells which stroke an answer belongs to.
    digits = []
    for digit in load_pen_digits(pen_digits_path):
        if len(digit.strokes) == 1 and digit.label not in {d.label for d in digits} and len(digits) < DIGITS:
            digits.append(digit)
    assert page.locator(".digit.empty").count() == 1            # the empty state before any drawing
    for i, digit in enumerate(digits):
        if i:
            clear_canvas(page)
            page.locator(".digit.empty").wait_for(timeout=30_000)
        draw_digit(page, digit.strokes)
        shown = wait_for_prediction(page)
        page.screenshot(path=ARTIFACTS / f"draw-{i}-label{digit.label}.png", full_page=True)
        top_row = page.locator('[data-testid="label"] button.confidence-set').first.inner_text().split()[0]
        assert shown == top_row == str(digit.label), f"{digit.id}: drew {digit.label}, page shows {shown}"


def test_a_fingers_first_stroke_on_a_phone_is_answered_on_screen(app, pen_digits_path):
    digit = next(d for d in load_pen_digits(pen_digits_path) if len(d.strokes) == 1 and d.label == 7)
    page = open_app(*app, device=PHONE)
    width, height = PHONE["viewport"]["width"], PHONE["viewport"]["height"]
    left, top, side = drawing_area(page)
    assert left >= 0 and top >= 0 and left + side <= width and top + side <= height, (left, top, side)
    assert side >= 0.75 * width                                   # the pad uses the screen's width
    draw_digit(page, digit.strokes, pointer="finger")
    shown = wait_for_prediction(page)
    page.screenshot(path=ARTIFACTS / "phone.png")
    assert shown == "7"
    # Clear by touch, then the next digit straight away: the brush is still there
    second = next(d for d in load_pen_digits(pen_digits_path) if len(d.strokes) == 1 and d.label == 2)
    clear_canvas(page, pointer="finger")
    page.locator(".digit.empty").wait_for(timeout=30_000)
    draw_digit(page, second.strokes, pointer="finger")
    assert wait_for_prediction(page) == "2"
    layout = page.evaluate("""() => { const b = document.querySelector('.digit').getBoundingClientRect();
        return {scroll_x: document.documentElement.scrollWidth, y: scrollY, top: b.top, bottom: b.bottom}; }""")
    assert layout["scroll_x"] <= width and layout["y"] == 0        # no sideways overflow; drawing did not scroll
    assert layout["bottom"] <= height and layout["bottom"] - layout["top"] >= 24    # a large answer, on screen
    page.context.close()


# Every text the answer shows, in order, from the moment it is installed.
ANSWER_LOG = """() => { window.answer_log = [];
    new MutationObserver(() => {
        const shown = document.querySelector('#answer .digit')?.innerText.trim() ?? '';
        const log = window.answer_log;
        if (log[log.length - 1] !== shown) log.push(shown);
    }).observe(document.querySelector('#answer'), {subtree: true, childList: true, characterData: true}); }"""


def test_an_answer_never_outlives_its_drawing(app, pen_digits_path):
    # Clear pressed while the stroke's answer is still being made (exported, sent, computed): once the
    # empty pad's state is shown, no answer of the cleared drawing may replace it.
    digit = next(d for d in load_pen_digits(pen_digits_path) if len(d.strokes) == 1 and d.label == 3)
    page = open_app(*app)
    page.evaluate(ANSWER_LOG)
    for _ in range(2):
        draw_digit(page, digit.strokes)
        clear_canvas(page)
        page.wait_for_timeout(8_000)        # room for any late answer to arrive
        log = page.evaluate("window.answer_log")
        empty = [i for i, shown in enumerate(log) if not shown.isdigit()]    # the empty pad's invitation
        assert empty and not any(shown.isdigit() for shown in log[empty[0]:]), log
        page.evaluate("window.answer_log = []")
    page.context.close()


def russian_share(texts: list[str]) -> float:
    return sum(any("а" <= ch <= "я" for ch in t.lower()) for t in texts) / len(texts)


def test_a_russian_browser_gets_a_russian_page(app):
    page = open_app(*app, locale="ru-RU")
    page.locator(".digit.empty", has_text="нарисуйте цифру").wait_for(timeout=60_000)   # server-written text
    texts = page.evaluate("""() => [...document.querySelectorAll(
            '[role=tab], button, label, [data-testid=block-label], [data-testid=block-info]')]
        .filter(e => e.offsetParent !== null).map(e => e.innerText.trim()).filter(t => /\\p{L}/u.test(t))""")
    page.screenshot(path=ARTIFACTS / "draw-ru.png", full_page=True)
    assert page.get_by_role("tab", name="Рисовать").count() and page.get_by_role("tab", name="Обучение").count()
    assert page.get_by_role("button", name="Распознать").count() == 1
    assert len(texts) >= 5 and russian_share(texts) >= 0.9, texts
    page.get_by_role("tab", name="Обучение").click()
    page.get_by_role("button", name="Обучить").wait_for()
    assert page.get_by_role("button", name="Стоп").count() == 1
    page.context.close()


def test_a_click_under_the_answer_stores_the_drawing(page, feedback, pen_digits_path):
    digit = next(d for d in load_pen_digits(pen_digits_path) if len(d.strokes) == 1)    # one answer to wait for
    clear_canvas(page)
    right = page.get_by_role("button", name="✓ Right")
    page.locator(".digit.empty").wait_for(timeout=30_000)
    page.wait_for_function("el => el.disabled", arg=right.element_handle(), timeout=30_000)  # nothing to confirm
    draw_digit(page, digit.strokes)
    shown = wait_for_prediction(page)              # right or wrong: a visitor corrects what the page shows
    wrong = str((int(shown) + 1) % 10)
    page.locator("#correct").get_by_role("radio", name=wrong, exact=True).click()
    page.locator("#kept").get_by_text(f"Saved as {wrong}").wait_for(timeout=60_000)
    # The correction taught the visitor's own model, which now reads the drawing: ✓ confirms its answer.
    page.locator("#personal").get_by_text("your model").first.wait_for(timeout=60_000)
    now = page.locator(".digit").first.inner_text().strip()
    page.get_by_role("button", name="✓ Right").click()
    page.locator("#kept").get_by_text("learned from 2").wait_for(timeout=60_000)    # the second drawing kept
    assert f"Saved as {now}" in page.locator("#kept").inner_text()
    page.screenshot(path=ARTIFACTS / "draw-corrected.png", full_page=True)
    stored = [json.loads(line) for line in (feedback / "metadata.jsonl").read_text().splitlines()]
    assert [(r["label"], r["predicted"]) for r in stored] == [(int(wrong), int(shown)), (int(now), int(now))]
    assert all((feedback / r["file_name"]).is_file() for r in stored)


def test_train_fills_the_plots_and_stop_hands_the_model_to_draw(page):
    page.get_by_role("tab", name="Train").click()
    assert page.get_by_role("button", name="Stop").is_disabled()     # no run to stop yet
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('.vega-embed').length >= 3", timeout=60_000)
    page.wait_for_function(f"() => ({RUN_POINTS})(0) >= 3", timeout=120_000)
    first = line_points(page, 0)
    page.wait_for_function(f"n => ({RUN_POINTS})(0) > n", arg=first, timeout=60_000)
    assert "training" in page.get_by_text("epoch 1 of").first.inner_text()
    page.screenshot(path=ARTIFACTS / "train-running.png", full_page=True)

    page.get_by_role("button", name="Stop").click()
    page.get_by_role("heading", name="Test accuracy").wait_for(timeout=60_000)
    assert page.get_by_text("Stopped early").count() == 1
    assert page.locator("progress").evaluate("bar => bar.value") < 1             # where the run stopped
    page.wait_for_function("el => el.disabled", arg=page.get_by_role("button", name="Stop").element_handle(),
                           timeout=30_000)
    page.screenshot(path=ARTIFACTS / "train-stopped.png", full_page=True)

    page.get_by_role("button", name="Use this model in Draw").click()
    page.locator('.pixi-target canvas').first.wait_for(state="visible", timeout=30_000)
    picker = page.get_by_label("Model (test accuracy on MNIST's 10,000 test digits)")
    page.wait_for_function("el => el.value.startsWith('app-')", arg=picker.element_handle(), timeout=30_000)
    page.screenshot(path=ARTIFACTS / "draw-new-model.png", full_page=True)


def bars(page) -> str:
    """The drawing's bar chart as drawn (its bars' SVG paths): it changes when the probabilities do."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.vega-embed g.mark-rect path'))
        .map(p => p.getAttribute('d')).join('|')""")


def test_the_drawing_is_read_every_epoch_and_stop_shows_what_was_learned(page, pen_digits_path):
    seven = next(d for d in load_pen_digits(pen_digits_path) if d.label == 7 and len(d.strokes) == 1)
    page.get_by_role("tab", name="Draw").click()
    clear_canvas(page)
    page.locator(".digit.empty").wait_for(timeout=30_000)
    draw_digit(page, seven.strokes)
    wait_for_prediction(page)

    page.get_by_role("tab", name="Train").click()
    page.get_by_label("Batch size (digits per step)").fill("1024")    # quicker epochs on a busy machine
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Your drawing, read after each epoch: 1:").wait_for(timeout=180_000)
    page.wait_for_function("() => document.querySelectorAll('.vega-embed g.mark-rect path').length >= 10",
                           timeout=30_000)
    first = bars(page)
    page.get_by_text("· 2:").wait_for(timeout=180_000)
    page.wait_for_function("""b => Array.from(document.querySelectorAll('.vega-embed g.mark-rect path'))
        .map(p => p.getAttribute('d')).join('|') !== b""", arg=first, timeout=30_000)   # epoch 2 reads it anew
    weights = page.locator("#weights img")
    assert weights.count() == 1 and weights.evaluate("img => img.naturalWidth") == 20 * 29 + 1
    page.screenshot(path=ARTIFACTS / "train-learning.png", timeout=120_000)

    page.get_by_role("button", name="Stop").click()
    page.get_by_role("heading", name="Test accuracy").wait_for(timeout=90_000)
    page.wait_for_function("() => document.querySelectorAll('#misread img').length >= 16", timeout=30_000)
    page.locator("#confusion img").wait_for(timeout=30_000)
    assert page.locator("#weights img").count() == 1
    page.screenshot(path=ARTIFACTS / "train-learned.png", timeout=120_000)
