"""The Draw tab's handlers: a sketch in, the prediction as the page shows it out; the model picker."""
from __future__ import annotations

import html

import gradio as gr
import numpy as np

from mnist_model import CheckpointError, ImageError

from ..i18n import error_text, lang_of, text
from ..training.runs import DEFAULT_KEY, ModelEntry, list_models, shown
from . import CANVAS
from .feedback import FeedbackRefused
from .feedback_sync import store
from .recognizers import Recognizers

BRUSH = 16              # brush radius in canvas pixels: about MNIST's stroke width once scaled to 28 x 28
CELL = 12               # screen pixels per model pixel in the "what the model saw" view
UNSURE_BELOW = 0.6      # top probability under which the app says it is not sure

recognizers = Recognizers()


def blank_sketch() -> dict:
    """An empty white sketchpad value: drawing can start at once, on the background the model expects.
    The transparent layer is there for the first stroke's sake: Gradio's editor drops the first change
    event it sees, taking it for the initial value's, but loading a background alone sends none, so the
    first stroke went unanswered. Loading a layer sends the change that gets dropped (and a second one,
    answered with the empty state)."""
    return {"background": np.full((CANVAS, CANVAS, 3), 255, np.uint8),
            "layers": [np.zeros((CANVAS, CANVAS, 4), np.uint8)], "composite": None}


def enlarge(image28: np.ndarray) -> np.ndarray:
    """(28, 28) uint8 -> (28*CELL, 28*CELL) with dark grid lines, so each model pixel is visible."""
    big = np.repeat(np.repeat(image28, CELL, axis=0), CELL, axis=1)
    big[::CELL, :] = np.maximum(big[::CELL, :] // 2, 40)
    big[:, ::CELL] = np.maximum(big[:, ::CELL] // 2, 40)
    return big


def digit_html(label: int | None, confidence: float = 0.0, lang: str = "en") -> str:
    """The big predicted digit with its confidence, or the empty-canvas invitation."""
    if label is None:
        return f'<div class="digit empty">{text(lang, "digit.empty")}</div>'
    return f'<div class="digit">{label}</div><div class="confidence">{text(lang, "digit.sure", p=confidence)}</div>'


def empty_state(lang: str) -> tuple[None, str, None, str]:
    """/predict's outputs for an empty canvas: no probabilities, the invitation, no 28 x 28 view, the hint."""
    return None, digit_html(None, lang=lang), None, text(lang, "hint.empty")


def predict(sketch: dict | None, model_key: str,
            request: gr.Request | None = None) -> tuple[dict | None, str, np.ndarray | None, str]:
    """Probabilities of the ten digits (None for an empty canvas), the big digit, the 28 x 28 view, a hint,
    the texts in the visitor's language."""
    lang = lang_of(request)
    try:
        p = recognizers.get(model_key).predict(sketch)
    except (ImageError, CheckpointError) as e:     # messages may quote a file name: shown as text, not HTML
        raise gr.Error(html.escape(error_text(lang, e))) from None
    if p.label is None:
        return empty_state(lang)
    probs = {str(d): float(v) for d, v in enumerate(p.probabilities)}
    first, second = sorted(range(10), key=lambda d: -p.probabilities[d])[:2]
    hint = ""
    if p.probabilities[first] < UNSURE_BELOW:
        hint = text(lang, "hint.unsure", a=first, pa=p.probabilities[first], b=second, pb=p.probabilities[second])
    return probs, digit_html(p.label, p.probabilities[first], lang), enlarge(p.image28), hint


class Picker(gr.Dropdown):
    """The model picker. Gradio's Dropdown quotes a value it does not list whole, with every choice, in
    its error and the log: a visitor's 30 MB value came back 30 MB long. This one quotes it cut short."""

    def get_block_name(self) -> str:
        return "dropdown"       # drawn by Dropdown's frontend (see Sketchpad.get_block_name)

    def preprocess(self, payload):
        if payload is not None and payload not in [value for _, value in self.choices]:
            raise gr.Error(f"No model {html.escape(shown(payload))} in the list; pick one from it.")
        return super().preprocess(payload)


def model_label(entry: ModelEntry, lang: str) -> str:
    """A picker label such as "app-20250101-120000 · 3 epochs · test 97.12%"."""
    parts = [entry.name or text(lang, "model.shipped")]
    if entry.epochs:
        epochs = text(lang, "model.epoch1" if entry.epochs == 1 else "model.epochs", n=entry.epochs)
        parts.append(epochs + (text(lang, "model.stopped") if entry.stopped else ""))
    parts.append(text(lang, "model.test", acc=entry.accuracy) if entry.accuracy is not None
                 else text(lang, "model.unknown"))
    return " · ".join(parts)


def picker_choices(lang: str = "en") -> list[tuple[str, str]]:
    return [(model_label(e, lang), e.key) for e in list_models()]


def picker_update(model_key: str, request: gr.Request | None = None) -> gr.Dropdown:
    """The picker with the models on disk now, keeping the current choice when it still exists."""
    choices = picker_choices(lang_of(request))
    return gr.Dropdown(choices=choices, value=model_key if model_key in {k for _, k in choices} else DEFAULT_KEY)


def choose_model(choice: str, current: str, request: gr.Request | None = None) -> tuple[str, gr.Dropdown]:
    """The picker's choice into this visitor's state, which /predict reads (the API takes only the sketch).
    A file that does not load (deleted, damaged, replaced by something else since it was listed) is
    refused with a warning: the visitor keeps `current` and the picker is reset to it."""
    try:
        recognizers.get(choice)
    except CheckpointError as e:
        lang = lang_of(request)
        gr.Warning(text(lang, "model.kept", detail=html.escape(error_text(lang, e))))
        return current, picker_update(current, request)
    return choice, gr.Dropdown()


def correctable(probabilities: dict | None) -> tuple[gr.Button, gr.Radio]:
    """✓ Right and the correction radio, usable only while the pad holds a drawing with an answer."""
    usable = bool(probabilities)
    return gr.Button(interactive=usable), gr.Radio(interactive=usable)


def save_correction(sketch: dict | None, label: int | None, model_key: str, request: gr.Request) -> tuple[str, None]:
    """Keep the drawing with the digit the visitor says it is, and the answer the app gave (so misreads
    can be counted). Returns the visitor's message and a cleared choice; a refusal is a gr.Error."""
    if label is None:
        raise gr.Error(text(lang_of(request), "feedback.label", label=label))
    return _keep(sketch, label, model_key, request), None


def confirm_answer(sketch: dict | None, model_key: str, request: gr.Request) -> str:
    """Keep the drawing labelled with the app's own answer, which the visitor says is right."""
    return _keep(sketch, None, model_key, request)


def _keep(sketch: dict | None, label: int | None, model_key: str, request: gr.Request) -> str:
    lang = lang_of(request)
    try:
        answer = recognizers.get(model_key).predict(sketch).label
        if answer is None:
            raise FeedbackRefused("feedback.empty")
        return store().add(sketch, answer if label is None else label, predicted=answer, model=model_key,
                           session=request.session_hash or "", lang=lang)
    except FeedbackRefused as e:
        raise gr.Error(text(lang, e.key, **e.values)) from None
    except (ImageError, CheckpointError) as e:
        raise gr.Error(html.escape(error_text(lang, e))) from None
