"""The CLI's pictures read without a legend to decode: plain-number ticks on its log plots, a title and a
colour legend on the first layer's weights."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from train.cli import build_parser
from train.figures import article, first_layer_figure, number_ticks


def tick_labels(values: list[float]) -> list[str]:
    fig = Figure()
    ax = fig.add_subplot()
    ax.plot(range(len(values)), values)
    number_ticks(ax)
    fig.canvas.draw()
    return [t.get_text() for t in ax.get_yticklabels() if t.get_visible() and t.get_text()
            and ax.get_ylim()[0] <= t.get_position()[1] <= ax.get_ylim()[1]]


def test_a_learning_rate_schedule_is_labelled_with_its_own_values():
    labels = tick_labels([0.002, 0.002, 0.0006, 0.00018])      # lr 0.002 cut by 0.3 twice
    assert "0.002" in labels and "0.0005" in labels and "0.0002" in labels
    assert not any("10" in label and "^" in label or "times" in label for label in labels)


def test_a_loss_within_one_decade_still_gets_plain_ticks():
    labels = tick_labels([2.3, 1.9, 1.4, 1.3])
    assert labels and all(float(label) == float(f"{float(label):g}") for label in labels)
    assert not any("^" in label or "times" in label for label in labels)


def test_the_first_layer_picture_has_a_title_and_a_colour_legend():
    fig = first_layer_figure(np.random.default_rng(0).normal(size=(200, 784)))
    assert "200 units" in fig.axes[0].get_title()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("excites" in t for t in legend) and any("inhibits" in t for t in legend)


def test_digits_take_their_english_article():
    assert [f"{article(d)} {d}" for d in (7, 8)] == ["a 7", "an 8"]


def test_help_opens_with_what_the_command_does_for_its_user():
    text = build_parser().format_help()
    assert "Train the digit recognizer's network" in text and "examples:" in text
