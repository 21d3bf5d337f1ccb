"""The Draw tab's handlers: a sketch in, the prediction as the page shows it out; the model picker."""
from __future__ import annotations

import html

import gradio as gr
import numpy as np

from mnist_model import CheckpointError, DigitRecognizer, ImageError, Prediction
from train import DataError

from ..i18n import error_text, lang_of, text
from ..training.runs import DEFAULT_KEY, ModelEntry, list_models, quoted
from . import CANVAS
from ..guards.as_sent import AsSent
from ..guards.upload_guard import client_key
from .feedback import FeedbackRefused, digit_label
from .feedback_sync import store
from .personal import WAIT_SECONDS, Handwriting, PersonalModels
from .recognizers import Recognizers

BRUSH = 16              # brush radius in canvas pixels: about MNIST's stroke width once scaled to 28 x 28
CELL = 12               # screen pixels per model pixel in the "what the model saw" view
UNSURE_BELOW = 0.6      # top probability under which the app says it is not sure

recognizers = Recognizers()
personal = PersonalModels()


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
    """/predict's first outputs for an empty canvas: no probabilities, the invitation, no 28 x 28 view, the hint."""
    return None, digit_html(None, lang=lang), None, text(lang, "hint.empty")


def model_name(model_key: str, lang: str) -> str:
    """The shown model as the page names it: "shipped model", or the run's name."""
    return text(lang, "model.shipped") if model_key == DEFAULT_KEY else quoted(model_key)


def session_of(request: gr.Request | None) -> str:
    return (request.session_hash if request is not None else None) or ""


def read(sketch, model_key: str, hand: Handwriting | None,
         request: gr.Request | None) -> tuple[Prediction, np.ndarray | None, str]:
    """The shown model's Prediction, the visitor's own model's probabilities for the same 28 x 28 picture
    (None without corrections, for a blank pad, or when it could not be learned) and a line saying who
    read it. Raises ImageError, CheckpointError."""
    lang = lang_of(request)
    rec = recognizers.get(model_key)
    p = rec.predict(sketch)
    if not hand:
        return p, None, ""
    line = text(lang, "personal.reading", n=len(hand))
    if p.label is None:              # nothing to read: no need to wait for the visitor's model
        return p, None, line
    try:
        model = personal.model(session_of(request), model_key, rec, hand)
    except (TimeoutError, DataError, OSError, ValueError) as e:
        return p, None, text(lang, "personal.failed", detail=html.escape(str(e)[:200]),
                             model=model_name(model_key, lang))
    mine = DigitRecognizer(model, rec.mean, rec.std).probabilities(p.image28[None])[0]
    if int(mine.argmax()) != p.label:
        line += "<br>" + text(lang, "personal.both", mine=int(mine.argmax()), model=model_name(model_key, lang),
                              theirs=p.label)
    return p, mine, line


def predict(sketch: dict | None, model_key: str, hand: Handwriting | None = None,
            request: gr.Request | None = None) -> tuple[dict | None, str, np.ndarray | None, str, str, dict]:
    """Probabilities of the ten digits (None for an empty canvas), the big digit, the 28 x 28 view, a hint,
    who read it (a line for the page, and for API callers {"reader": "personal" or "shown", "model": the
    shown model's key, "learned_from": the visitor's labelled drawings, "label", "shown_label"}), the
    texts in the visitor's language. With corrections, the visitor's own model reads the drawing."""
    lang = lang_of(request)
    try:
        p, mine, line = read(sketch, model_key, hand, request)
    except (ImageError, CheckpointError) as e:     # messages may quote a file name: shown as text, not HTML
        raise gr.Error(html.escape(error_text(lang, e))) from None
    reader = {"reader": "shown" if mine is None else "personal", "model": model_key,
              "learned_from": len(hand) if hand else 0, "label": p.label, "shown_label": p.label}
    if p.label is None:
        return *empty_state(lang), line, reader
    probabilities = p.probabilities if mine is None else mine
    label = int(probabilities.argmax())
    probs = {str(d): float(v) for d, v in enumerate(probabilities)}
    first, second = sorted(range(10), key=lambda d: -probabilities[d])[:2]
    hint = ""
    if probabilities[first] < UNSURE_BELOW:
        hint = text(lang, "hint.unsure", a=first, pa=probabilities[first], b=second, pb=probabilities[second])
    return (probs, digit_html(label, probabilities[first], lang), enlarge(p.image28), hint, line,
            {**reader, "label": label})


class Picker(AsSent, gr.Dropdown):
    """The model picker. Gradio's Dropdown quotes a value it does not list whole, with every choice, in
    its error and the log; choose_model refuses one not listed in the visitor's language."""


class DigitChoice(AsSent, gr.Radio):
    """The correction's digits. Gradio's Radio refuses a choice given as the string "7" (its API info
    lists the digits as strings); save_correction accepts 0-9 as ints or digit strings and refuses the
    rest in the visitor's language."""

    def api_info(self) -> dict:
        return {"enum": list(range(10)), "title": "Digit", "type": "integer"}


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
    refused with a warning, as is a value the picker does not list: the visitor keeps `current` and the
    picker is reset to it."""
    lang = lang_of(request)
    if not isinstance(choice, str) or choice not in {key for _, key in picker_choices()}:
        refusal = text(lang, "model.not_listed", name=html.escape(quoted(choice)))
    else:
        try:
            recognizers.get(choice)
            return choice, gr.Dropdown()
        except CheckpointError as e:
            refusal = html.escape(error_text(lang, e))
    gr.Warning(text(lang, "model.kept", detail=refusal))
    return current, picker_update(current, request)


def correctable(probabilities: dict | None) -> tuple[gr.Button, gr.Radio]:
    """✓ Right and the correction radio, usable only while the pad holds a drawing with an answer."""
    usable = bool(probabilities)
    return gr.Button(interactive=usable), gr.Radio(interactive=usable)


def save_correction(sketch: dict | None, label, model_key: str, hand: Handwriting | None,
                    request: gr.Request) -> tuple[str, None, Handwriting]:
    """Keep the drawing with the digit the visitor says it is (0-9, an int or a digit string), and the
    answer the app gave (so misreads can be counted), and teach it to the visitor's own model. Returns
    the visitor's message, a cleared choice and their handwriting with this digit; a refusal is a
    gr.Error and changes nothing."""
    try:
        label = digit_label(label)
    except FeedbackRefused as e:
        raise gr.Error(text(lang_of(request), e.key, **e.values)) from None
    message, hand = _keep(sketch, label, model_key, hand, request)
    return message, None, hand


def confirm_answer(sketch: dict | None, model_key: str, hand: Handwriting | None,
                   request: gr.Request) -> tuple[str, Handwriting]:
    """Keep the drawing labelled with the app's own answer, which the visitor says is right."""
    return _keep(sketch, None, model_key, hand, request)


def _keep(sketch: dict | None, label: int | None, model_key: str, hand: Handwriting | None,
          request: gr.Request) -> tuple[str, Handwriting]:
    lang = lang_of(request)
    hand = hand or Handwriting()
    try:
        rec = recognizers.get(model_key)
        p = rec.predict(sketch)
        if p.label is None:
            raise FeedbackRefused("feedback.empty")
        # What the page showed: the visitor's model's answer when it is ready (never waited for here,
        # where a wait would hold one of the predictions' places), else the shown model's.
        mine = personal.cached(session_of(request), model_key, hand)
        answer = p.label if mine is None else int(DigitRecognizer(mine, rec.mean, rec.std).probabilities(
            p.image28[None])[0].argmax())
        label = answer if label is None else label
        message = store().add(sketch, label, predicted=answer, model=model_key,
                              session=session_of(request), lang=lang,
                              address=client_key(request.headers, request.client.host if request.client else ""))
    except FeedbackRefused as e:
        raise gr.Error(text(lang, e.key, **e.values)) from None
    except (ImageError, CheckpointError) as e:
        raise gr.Error(html.escape(error_text(lang, e))) from None
    if personal.limits.max_digits <= 0:         # PERSONAL_MAX_DIGITS=0: no personal models on this server
        return message, hand
    hand = hand.add(p.image28, label, personal.limits.max_digits)
    personal.learn(session_of(request), model_key, rec, hand)
    return f"{message} {text(lang, 'personal.learned', n=len(hand))}", hand


def settle(model_key: str, hand: Handwriting | None, request: gr.Request) -> None:
    """Wait for the visitor's model to be learned, outside the predictions' places, so that the page's
    next reading finds it ready. A failure is left for that reading to report."""
    if hand:
        try:
            personal.learn(session_of(request), model_key, recognizers.get(model_key), hand).result(WAIT_SECONDS)
        except Exception:       # TimeoutError, a model gone, MNIST missing...: predict says which, in words
            pass


def forget(model_key: str, request: gr.Request) -> tuple[Handwriting, str]:
    """Forget my handwriting: the visitor's digits and model are dropped; the shown model reads again."""
    personal.forget(session_of(request))
    lang = lang_of(request)
    return Handwriting(), text(lang, "personal.forgotten", model=model_name(model_key, lang))


def end_session(request: gr.Request) -> None:
    """The page was closed: its model is dropped (its digits went with the session's state)."""
    personal.forget(session_of(request))
