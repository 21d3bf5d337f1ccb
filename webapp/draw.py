"""The Draw tab's handlers: a sketch in, the prediction as the page shows it out; the model picker."""
from __future__ import annotations

import gradio as gr
import numpy as np

from mnist_model import CheckpointError, ImageError

from .api import CANVAS
from .feedback import REFUSED_EMPTY, REFUSED_LABEL, FeedbackRefused
from .feedback_sync import store
from .recognizers import Recognizers
from .runs import DEFAULT_KEY, list_models

BRUSH = 16              # brush radius in canvas pixels: about MNIST's stroke width once scaled to 28 x 28
CELL = 12               # screen pixels per model pixel in the "what the model saw" view
UNSURE_BELOW = 0.6      # top probability under which the app says it is not sure

recognizers = Recognizers()


def blank_sketch() -> dict:
    """An empty white sketchpad value: drawing can start at once, on the background the model expects."""
    return {"background": np.full((CANVAS, CANVAS, 3), 255, np.uint8), "layers": [], "composite": None}


def enlarge(image28: np.ndarray) -> np.ndarray:
    """(28, 28) uint8 -> (28*CELL, 28*CELL) with dark grid lines, so each model pixel is visible."""
    big = np.repeat(np.repeat(image28, CELL, axis=0), CELL, axis=1)
    big[::CELL, :] = np.maximum(big[::CELL, :] // 2, 40)
    big[:, ::CELL] = np.maximum(big[:, ::CELL] // 2, 40)
    return big


def digit_html(label: int | None, confidence: float = 0.0) -> str:
    """The big predicted digit with its confidence, or the empty-canvas invitation."""
    if label is None:
        return '<div class="digit empty">draw a digit</div>'
    return f'<div class="digit">{label}</div><div class="confidence">{confidence:.0%} sure</div>'


def predict(sketch: dict | None, model_key: str) -> tuple[dict | None, str, np.ndarray | None, str]:
    """Probabilities of the ten digits (None for an empty canvas), the big digit, the 28 x 28 view, a hint."""
    try:
        p = recognizers.get(model_key).predict(sketch)
    except (ImageError, CheckpointError) as e:
        raise gr.Error(str(e)) from None
    if p.label is None:
        return None, digit_html(None), None, "The canvas is empty: draw one digit, 0 to 9, large and centred."
    probs = {str(d): float(v) for d, v in enumerate(p.probabilities)}
    first, second = sorted(range(10), key=lambda d: -p.probabilities[d])[:2]
    hint = ""
    if p.probabilities[first] < UNSURE_BELOW:
        hint = (f"**Not sure**: {first} ({p.probabilities[first]:.0%}) or {second} "
                f"({p.probabilities[second]:.0%})? Try one clear shape, drawn large.")
    return probs, digit_html(p.label, p.probabilities[first]), enlarge(p.image28), hint


def picker_choices() -> list[tuple[str, str]]:
    return [(e.label, e.key) for e in list_models()]


def picker_update(model_key: str) -> gr.Dropdown:
    """The picker with the models on disk now, keeping the current choice when it still exists."""
    choices = picker_choices()
    return gr.Dropdown(choices=choices, value=model_key if model_key in {k for _, k in choices} else DEFAULT_KEY)


def choose_model(choice: str, current: str) -> tuple[str, gr.Dropdown]:
    """The picker's choice into this visitor's state, which /predict reads (the API takes only the sketch).
    A file that does not load (deleted, damaged, replaced by something else since it was listed) is
    refused with a warning: the visitor keeps `current` and the picker is reset to it."""
    try:
        recognizers.get(choice)
    except CheckpointError as e:
        gr.Warning(f"{e}. Still using the previous model.")
        return current, picker_update(current)
    return choice, gr.Dropdown()


def save_correction(sketch: dict | None, label: int | None, model_key: str, request: gr.Request) -> tuple[str, None]:
    """Keep the drawing with the digit the visitor says it is, and the answer the app gave (so misreads
    can be counted). Returns the visitor's message and a cleared choice; a refusal is a gr.Error."""
    if label is None:
        raise gr.Error(REFUSED_LABEL.format(label=label))
    return _keep(sketch, label, model_key, request.session_hash or ""), None


def confirm_answer(sketch: dict | None, model_key: str, request: gr.Request) -> str:
    """Keep the drawing labelled with the app's own answer, which the visitor says is right."""
    return _keep(sketch, None, model_key, request.session_hash or "")


def _keep(sketch: dict | None, label: int | None, model_key: str, session: str) -> str:
    try:
        answer = recognizers.get(model_key).predict(sketch).label
        if answer is None:
            raise FeedbackRefused(REFUSED_EMPTY)
        return store().add(sketch, answer if label is None else label, predicted=answer, model=model_key,
                           session=session)
    except (ImageError, CheckpointError, FeedbackRefused) as e:
        raise gr.Error(str(e)) from None
