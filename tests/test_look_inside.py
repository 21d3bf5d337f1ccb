"""The Look inside view's handlers and pictures in process (webapp.draw.look_inside, inside_pictures):
a tap maps back to the unit drawn there, for any model's shape; while the view is closed its handler
returns without reading anything; a unit the layer lacks gets a message in the visitor's language;
the layer picker's entries are sent only when they change; a blank pad says to draw."""
from __future__ import annotations

import gradio as gr
import numpy as np
import pytest

from harness.app_driver import sketch_files
from mnist_model import DigitRecognizer
from tests.test_ui import Request
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw import CANVAS
from webapp.draw.inside_pictures import COLUMNS, GAP, PX, cell_at, layers_picture, layout
from webapp.draw.look_inside import OUTPUTS, choose_cell, look_inside, view
from webapp.training.runs import DEFAULT_KEY

ENGLISH, RUSSIAN = Request("en-US"), Request("ru-RU,ru")


@pytest.fixture(scope="module")
def drawing(pen_digits_path):
    return render_sketchpad(load_pen_digits(pen_digits_path)[5], canvas=CANVAS)


@pytest.mark.parametrize("widths", [(200, 150, 100, 80, 10), (64, 7, 10), (10,)])
def test_a_tap_on_a_cell_finds_the_unit_drawn_there(widths):
    tops = layout(widths)
    for layer, width in enumerate(widths):
        for unit in range(width):
            x, y = GAP + unit % COLUMNS * PX, tops[layer] + unit // COLUMNS * PX
            assert cell_at(widths, x + 1, y + 1) == cell_at(widths, x + PX - 1.5, y + PX - 1.5) == (layer, unit)
    assert cell_at(widths, 1, 1) is None and cell_at(widths, GAP + COLUMNS * PX + 1, tops[0] + 1) is None
    last_row = tops[-2] + (widths[-1] - 1) // COLUMNS * PX
    if widths[-1] % COLUMNS:                                      # right of the last unit of a short row
        assert cell_at(widths, GAP + (widths[-1] % COLUMNS) * PX + 1, last_row + 1) is None


def test_the_chosen_unit_is_framed_where_a_tap_finds_it(drawing):
    e = DigitRecognizer.load().explain(drawing)
    plain, framed = layers_picture(e, None), layers_picture(e, (2, 33))
    changed = np.argwhere((plain != framed).any(-1))              # (row, col) of each pixel drawn anew
    centre = changed.mean(0)
    assert cell_at((200, 150, 100, 80, 10), centre[1], centre[0]) == (2, 33)
    assert len(changed) > 0 and np.ptp(changed, axis=0).max() <= PX    # a frame around one cell


def test_a_tap_anywhere_or_with_any_data_keeps_a_unit(drawing):
    for data in ({"x": 50, "y": 9}, {"x": float("nan"), "y": 3}, {"x": "3", "y": None}, {}, {"x": 1e308, "y": -5}):
        event = gr.EventData(None, data)
        shown = dict(zip(OUTPUTS, choose_cell(drawing, DEFAULT_KEY, False, 2, 7, None, event, ENGLISH)))
        assert "Layer" in shown["math"] and shown["unit"] in (7, (50 - GAP) // PX)


def test_a_closed_view_reads_nothing():
    not_a_sketch = {"composite": "no such file", "layers": "?", "background": 3}
    skipped = look_inside(not_a_sketch, "no such model", False, True, 0, 0, None, ENGLISH)
    assert skipped == (gr.skip(),) * len(OUTPUTS)


def test_a_unit_the_layer_lacks_is_refused_in_the_visitors_language(drawing):
    with pytest.raises(gr.Error, match="нет нейрона 150.*от 0 до 149"):
        view(drawing, DEFAULT_KEY, False, 1, 150, None, "ru", strict=True)
    with pytest.raises(gr.Error, match="no unit 2.5 .* 0 to 199"):
        view(drawing, DEFAULT_KEY, False, 0, 2.5, None, "en", strict=True)
    shown = dict(zip(OUTPUTS, view(drawing, DEFAULT_KEY, False, 1, 150, None, "en", strict=False)))
    assert shown["unit"] == 0 and "Layer 2, unit 0" in shown["math"]      # after an answer: the first unit


def test_the_pickers_entries_are_sent_when_they_change_and_the_unit_always(drawing):
    first = dict(zip(OUTPUTS, look_inside(drawing, DEFAULT_KEY, True, True, 3, 7, None, RUSSIAN)))
    assert first["layer"]["__type__"] == "update" and first["layer"]["value"] == 3
    assert [label for label, _ in first["layer"]["choices"]][:2] == ["Слой 1 (200 нейронов)", "Слой 2 (150 нейронов)"]
    again = dict(zip(OUTPUTS, look_inside(drawing, DEFAULT_KEY, True, False, 3, 7, first["sent"], RUSSIAN)))
    assert again["layer"] == 3 and again["unit"] == 7 and again["why_not"] == "" and again["first_layer"] == ""
    english = dict(zip(OUTPUTS, look_inside(drawing, DEFAULT_KEY, True, False, 0, 7, first["sent"], ENGLISH)))
    assert english["layer"]["choices"][0][0] == "Layer 1 (200 units)"
    assert english["first_layer"].count("<img") == 2 and "Why" in english["why"]
    assert first["why_not"].count("<img") == 1 and "а не" in first["why_not"]


def test_a_blank_pad_asks_for_a_drawing(tmp_path):
    blank = {"background": np.full((CANVAS, CANVAS, 3), 255, np.uint8), "layers": [], "composite": None}
    shown = dict(zip(OUTPUTS, view(blank, DEFAULT_KEY, True, 0, 0, None, "en", strict=False)))
    assert "Draw a digit" in shown["math"] and shown["layers"] == shown["why"] == shown["neighbours"] == ""
    assert sketch_files(blank, tmp_path)["composite"] is None
