"""The "Look inside" view's handlers: the drawing read again by the picked model, explained
(mnist_model.explain) and drawn (inside_pictures.py). While the view is closed they return at once,
reading nothing; /explain gives the same as plain data."""
from __future__ import annotations

import html
import math
import threading

import gradio as gr
import numpy as np

from mnist_model import CheckpointError, DigitRecognizer, ImageError, TrainingDigits, unit
from mnist_model.explain import explain
from train import DataError, load_mnist
from train.data import mnist_present

from ..i18n import I18N, error_text, lang_of, text
from ..training.runs import DEFAULT_KEY
from .inside_pictures import arithmetic_html, cell_at, first_layer_html, layers_html, neighbours_html, saliency_html
from .tab import recognizers

# What view() returns, in order, by the names LookInside gives the components
OUTPUTS = ("layers", "why", "why_not", "neighbours", "layer", "unit", "first_layer", "math", "sent")
# Run in the page before the view follows an answer: while the view is closed the call is not sent
# at all (a throw here ends the event before it reaches the server)
CLOSED_JS = """(...values) => {
  if (!document.querySelector('#inside .label-wrap.open')) throw new Error('closed');
  return values;
}"""
# The layers picture's taps, as the pixel of the picture tapped (a tap is a click in a browser)
TAP_JS = """
element.addEventListener('click', (event) => {
  const img = event.target.closest('img.inside-layers');
  if (!img) return;
  const box = img.getBoundingClientRect();
  trigger('click', {x: (event.clientX - box.left) / box.width * img.naturalWidth,
                    y: (event.clientY - box.top) / box.height * img.naturalHeight});
});
"""
INSIDE_CSS = """
.inside-note { font-size: 0.85rem; opacity: 0.8; }
.inside-caption { font-weight: 600; }
#inside img { image-rendering: pixelated; }
.inside-layers { width: 100%; max-width: 420px; display: block; margin: auto; cursor: pointer; }
.inside-pic { margin: 0; flex: 1; }
.inside-pic img { width: 100%; max-width: 320px; display: block; }
.inside-pic figcaption { font-weight: 600; margin-bottom: 4px; }
.inside-pair { display: flex; gap: 8px; }
.neighbours { display: flex; flex-wrap: wrap; gap: 6px; }
.neighbours figure { margin: 0; text-align: center; }
.neighbours img { width: 64px; height: 64px; display: block; image-rendering: pixelated; }
.inside-table td, .inside-table th { padding: 0 8px; text-align: right; }
"""
_lock = threading.Lock()
_digits: list[TrainingDigits | None] = []     # once MNIST is read: the training digits, or None if unreadable


def training_digits() -> TrainingDigits | None:
    """MNIST's 55,000 training digits (the split every model here trained on), read from $MNIST_ROOT
    (else ./data) once they are there; None until then. Never downloads: a visitor's answer does not
    wait for one (the Train tab's first run downloads MNIST where it can)."""
    with _lock:
        if not _digits and mnist_present():
            try:
                mnist = load_mnist()
            except DataError as e:          # present but unreadable: said once, and no neighbours
                print(f"Look inside: no nearest training digits ({e})", flush=True)
                _digits.append(None)
            else:
                _digits.append(TrainingDigits(mnist.train_x, mnist.train_y))
        return _digits[0] if _digits else None


def layer_choices(rec: DigitRecognizer, lang: str) -> list[tuple[str, int]]:
    """The layer picker's entries for this model's shape: its hidden layers, then the output."""
    hidden = [(text(lang, "inside.layer.hidden", n=i + 1, units=w), i) for i, w in enumerate(rec.model.config.hidden)]
    return hidden + [(text(lang, "inside.layer.output"), len(hidden))]


def _model(model_key: str, lang: str) -> DigitRecognizer:
    try:
        return recognizers.get(model_key)
    except CheckpointError as e:
        raise gr.Error(html.escape(error_text(lang, e))) from None


def view(sketch: dict | None, model_key: str, versus: bool, layer: int | None, index: float | None,
         sent: tuple | None, lang: str, strict: bool) -> tuple:
    """Every output of the view (OUTPUTS) for this drawing with unit `index` of `layer` chosen. A unit
    this model does not have is refused with a message when the visitor chose it (`strict`), else the
    first unit is shown. `sent` is the (language, layer widths) the layer picker's entries were last
    made for on this page: updating a component's properties costs the server a new component, so
    they are sent only when they change."""
    rec = _model(model_key, lang)
    try:
        p = rec.predict(sketch)
    except ImageError as e:
        raise gr.Error(html.escape(error_text(lang, e))) from None
    widths = (*rec.model.config.hidden, rec.model.config.n_classes)
    layer = len(widths) - 1 if layer is None else int(layer)
    index = 0 if index is None else index
    if not (0 <= layer < len(widths) and float(index).is_integer() and 0 <= index < widths[layer]):
        if strict:
            last = widths[layer] - 1 if 0 <= layer < len(widths) else max(widths)
            raise gr.Error(text(lang, "inside.no_unit", unit=index, last=last))
        layer, index = min(max(layer, 0), len(widths) - 1), 0
    shape = (lang, widths)
    out = {"sent": shape, "unit": int(index),
           "layer": gr.update(choices=layer_choices(rec, lang), value=layer) if shape != sent else layer}
    if p.label is None:
        empty = dict.fromkeys(("layers", "why", "why_not", "neighbours", "first_layer"), "")
        return tuple({**empty, **out, "math": f"<p>{text(lang, 'inside.empty')}</p>"}[name] for name in OUTPUTS)
    runner_up = int(np.argsort(-p.probabilities, kind="stable")[1])
    e = explain(rec, p, [runner_up] if versus else [], training_digits())
    u = unit(rec, e, layer, int(index))
    out.update(layers=layers_html(e, (layer, int(index))),
               why=saliency_html(e, p.label, text(lang, "inside.why", digit=p.label)),
               why_not=saliency_html(e, runner_up, text(lang, "inside.why_not", digit=p.label, other=runner_up))
               if versus else "",
               neighbours=neighbours_html(e, lang), first_layer=first_layer_html(u, lang) if layer == 0 else "",
               math=arithmetic_html(rec, u, lang))
    return tuple(out[name] for name in OUTPUTS)


def look_inside(sketch: dict | None, model_key: str, is_open: bool, versus: bool, layer: int | None,
                index: float | None, sent: tuple | None, request: gr.Request) -> tuple:
    """After every answer: the whole view, or nothing at all while it is closed (the page does not even
    call this then: CLOSED_JS; a client without it gets an immediate empty reply)."""
    if not is_open:
        return (gr.skip(),) * len(OUTPUTS)
    return view(sketch, model_key, versus, layer, index, sent, lang_of(request), strict=False)


def choose_unit(sketch: dict | None, model_key: str, versus: bool, layer: int | None, index: float | None,
                sent: tuple | None, request: gr.Request) -> tuple:
    """The visitor picked a layer, typed a unit's number or asked for the runner-up."""
    return view(sketch, model_key, versus, layer, index, sent, lang_of(request), strict=True)


def choose_cell(sketch: dict | None, model_key: str, versus: bool, layer: int | None, index: float | None,
                sent: tuple | None, evt: gr.EventData, request: gr.Request) -> tuple:
    """The visitor tapped the layers picture at pixel (x, y) of it (TAP_JS); a tap between layers keeps
    the chosen unit."""
    rec = _model(model_key, lang_of(request))
    widths = (*rec.model.config.hidden, rec.model.config.n_classes)
    data = evt._data if isinstance(evt._data, dict) else {}
    x, y = data.get("x"), data.get("y")
    tapped = all(isinstance(v, (int, float)) and math.isfinite(v) for v in (x, y))   # any client may send these
    cell = cell_at(widths, x, y) if tapped else None
    if cell is not None:
        layer, index = cell
    return view(sketch, model_key, versus, layer, index, sent, lang_of(request), strict=False)


def explain_data(sketch: dict | None, model_key: str, request: gr.Request) -> dict:
    """/explain: the drawing read by model `model_key` (the picker's key; empty: the shipped model), as
    plain data: layers, saliency of the answer and the runner-up, the 8 nearest training digits."""
    lang = lang_of(request)
    rec = _model(model_key or DEFAULT_KEY, lang)
    try:
        p = rec.predict(sketch)
    except ImageError as e:
        raise gr.Error(html.escape(error_text(lang, e))) from None
    versus = [int(np.argsort(-p.probabilities, kind="stable")[1])] if p.label is not None else []
    return explain(rec, p, versus, training_digits()).to_dict()


class LookInside:
    """The view's components, made where it is constructed (the Draw tab, under the answer): an accordion,
    closed at first, whose contents follow every answer while it is open."""

    def __init__(self) -> None:
        self.is_open = gr.State(False)
        out = self.out = {"sent": gr.State(None)}    # what view() last made the layer picker's entries for
        with gr.Accordion(I18N("inside"), open=False, elem_id="inside") as self.accordion:
            gr.Markdown(I18N("inside.about"))
            with gr.Row(elem_id="inside-row"):
                with gr.Column():
                    gr.Markdown(I18N("inside.layers"), elem_classes="inside-caption")
                    out["layers"] = gr.HTML(js_on_load=TAP_JS, elem_id="inside-layers")
                    gr.Markdown(I18N("inside.layers.about"), elem_classes="inside-note")
                    with gr.Row():
                        out["layer"] = gr.Dropdown(layer_choices(recognizers.get(DEFAULT_KEY), "en"), value=0,
                                                   label=I18N("inside.layer"), elem_id="inside-layer", scale=2,
                                                   min_width=160)
                        out["unit"] = gr.Number(0, precision=0, minimum=0, label=I18N("inside.unit"),
                                                elem_id="inside-unit", scale=1, min_width=100)
                    out["math"] = gr.HTML(elem_id="inside-math")
                    out["first_layer"] = gr.HTML(elem_id="inside-first")
                with gr.Column():
                    out["why"] = gr.HTML(elem_id="inside-why")
                    self.versus = gr.Checkbox(False, label=I18N("inside.versus"), elem_id="inside-versus")
                    out["why_not"] = gr.HTML(elem_id="inside-why-not")
                    gr.Markdown(I18N("inside.saliency.about"), elem_classes="inside-note")
                    gr.Markdown(I18N("inside.neighbours"), elem_classes="inside-caption")
                    out["neighbours"] = gr.HTML(elem_id="inside-neighbours")
                    gr.Markdown(I18N("inside.neighbours.about"), elem_classes="inside-note")

    def wire(self, sketch: gr.components.Component, model_key: gr.State, events: dict) -> None:
        """Opening and closing, and the visitor's choices inside, with `events`' queue settings."""
        self._follow_args = ([sketch, model_key, self.is_open, self.versus, self.out["layer"], self.out["unit"],
                              self.out["sent"]],
                             [self.out[name] for name in OUTPUTS], dict(api_visibility="private", **events))
        inputs, outputs, settings = self._follow_args
        self.accordion.expand(lambda: True, None, self.is_open, api_visibility="private", queue=False).then(
            look_inside, inputs, outputs, **settings)
        self.accordion.collapse(lambda: False, None, self.is_open, api_visibility="private", queue=False)
        chosen = [sketch, model_key, self.versus, self.out["layer"], self.out["unit"], self.out["sent"]]
        gr.on([self.out["layer"].input, self.out["unit"].input, self.versus.input], choose_unit, chosen, outputs,
              trigger_mode="always_last", **settings)
        self.out["layers"].click(choose_cell, chosen, outputs, **settings)

    def follow(self, answer) -> None:
        """After the event `answer` (one that shows a new answer), the view for it, when open."""
        inputs, outputs, settings = self._follow_args
        answer.then(look_inside, inputs, outputs, js=CLOSED_JS, **settings)
