"""Experiments in a real browser (Playwright driving Debian's Chromium): a link with settings opens the Train
tab with them, and a bad one changes nothing; two runs that differ in learning rate are both drawn in the
plots, named by it, and both listed in the runs table; the second, a network of another shape, is picked
for Draw from the table's list and reads a drawing there. Runs are 1 epoch at batch 1024 on a 32-unit
network: seconds each. Skipped without Chromium unless REQUIRE_BROWSER=1."""
from __future__ import annotations

import re

from harness.app_driver import DESKTOP, SEEN_LOG, draw_digit, wait_for_prediction
from tests.browser import ARTIFACTS, require_chromium
from train.pen_digits import load_pen_digits

LINK = "?tab=train&epochs=1&batch_size=1024&lr=0.01&hidden=32&augment=false"

require_chromium()



def open_link(browser, url: str):
    """A fresh desktop page at `url` (a link with settings), once its tabs are on screen."""
    page = browser.new_context(locale="en-US", **DESKTOP).new_page()
    page.add_init_script(SEEN_LOG)
    page.goto(url)
    page.get_by_role("tab", name="Train").wait_for(timeout=60_000)
    return page


def setting(page, label: str):
    return page.get_by_label(label, exact=False).first


def legend(page, plot: int) -> list[str]:
    """The series named in the `plot`-th plot's legend."""
    return page.evaluate("""i => [...document.querySelectorAll('.vega-embed')[i]
        .querySelectorAll('g.role-legend-label text')].map(t => t.textContent)""", plot)


def test_a_bad_link_changes_nothing_and_says_why(app):
    browser, url = app
    page = open_link(browser, url + "?tab=train&lr=0.1&hidden=many")
    page.get_by_text("This link's settings were not applied").wait_for(timeout=30_000)
    assert "hidden must be whole numbers of units" in page.locator(".toast-body").first.inner_text()
    page.get_by_role("tab", name="Train").click()
    assert setting(page, "Learning rate").input_value() == "0.003"
    assert setting(page, "Hidden layers").input_value() == "200,150,100,80"
    page.context.close()


def test_two_runs_are_compared_and_another_shape_reads_a_drawing(app, pen_digits_path):
    browser, url = app
    page = open_link(browser, url + LINK)
    # The link opened the Train tab with its settings.
    page.get_by_role("tab", name="Train", selected=True).wait_for(timeout=30_000)
    assert setting(page, "Learning rate").input_value() == "0.01"
    assert setting(page, "Hidden layers").input_value() == "32"
    assert setting(page, "Batch size").input_value() == "1024"
    page.get_by_role("button", name="Copy a link to these settings").click()
    box = page.locator("#settings-link textarea, #settings-link input").first
    page.wait_for_function("el => el.value.includes('?tab=train')", arg=box.element_handle(), timeout=30_000)
    assert box.input_value().startswith(url) and "lr=0.01" in box.input_value() and "hidden=32" in box.input_value()

    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("heading", name="Test accuracy").wait_for(timeout=180_000)
    setting(page, "Learning rate").fill("0.03")
    setting(page, "Activation").click()
    page.get_by_role("option", name="tanh").click()
    page.get_by_role("button", name="Train", exact=True).click()
    page.locator("#runs-table [data-testid=cell-0-0]", has_text="#2").wait_for(timeout=180_000)   # newest first

    # Both runs in each plot, named by what differs, beside the shipped model; both in the table.
    for plot in range(3):
        page.wait_for_function("""i => document.querySelectorAll('.vega-embed')[i]
            .querySelectorAll('g.role-legend-label text').length >= 3""", arg=plot, timeout=30_000)
        names = legend(page, plot)
        assert "#1 lr=0.01 relu" in names and "#2 lr=0.03 tanh" in names, names
        assert "shipped model" in names
    assert page.evaluate("() => document.querySelectorAll('.vega-embed')[0]"
                         ".querySelectorAll('g.mark-line path').length") >= 3
    table = page.locator("#runs-table").inner_text()
    assert "#1" in table and "#2" in table and "lr=0.03" in table and table.count("finished") == 2
    page.screenshot(path=ARTIFACTS / "train-compared.png", full_page=True)

    # Run 2 (32 tanh units) picked for Draw from the table's list, and a drawing read there.
    page.get_by_label("Run", exact=True).click()
    page.get_by_role("option", name="#2", exact=True).click()
    page.get_by_role("button", name="Use in Draw").click()
    page.locator('button[aria-label="Brush"].highlight').wait_for(timeout=60_000)
    picker = page.get_by_label("Model (test accuracy on MNIST's 10,000 test digits)")
    page.wait_for_function("el => el.value.startsWith('app-')", arg=picker.element_handle(), timeout=30_000)
    one = next(d for d in load_pen_digits(pen_digits_path) if len(d.strokes) == 1 and d.label == 1)
    draw_digit(page, one.strokes)
    assert re.fullmatch(r"\d", wait_for_prediction(page))
    page.screenshot(path=ARTIFACTS / "draw-compared-model.png", full_page=True)
    page.context.close()
