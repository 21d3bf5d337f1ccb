"""The Blocks: both tabs' layout and the wiring of their events to the handlers in webapp.draw.tab and
webapp.training.tab. `build()` makes the app; `launch()` serves it as `python app.py` does."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import gradio as gr
import torch
from starlette.middleware import Middleware

from train import TrainConfig

from .draw import CANVAS
from .draw.feedback import FeedbackLimits
from .draw.tab import (BRUSH, CELL, Picker, blank_sketch, choose_model, confirm_answer, correctable, digit_html,
                       picker_choices, picker_update, predict, save_correction)
from .guards.limits import (CACHE_CLEANUP, CACHE_MAX_MB, MAX_UPLOAD, PREDICT_CONCURRENCY, TORCH_THREADS,
                            UPLOAD_MB_PER_MINUTE, training_allowed)
from .guards.sketchpad import Sketchpad
from .guards.upload_guard import UploadGuard
from .i18n import I18N, lang_of, text
from .training.form import TRAIN_TAB
from .training.runs import DEFAULT_KEY
from .training.tab import feedback_checkbox, run_started, slot, stop_training, train_model, use_model

LIMITS = TrainConfig.LIMITS
DEFAULTS = TRAIN_TAB

CSS = """
.digit { font-size: 7rem; font-weight: 700; line-height: 1; text-align: center; }
.digit.empty { font-size: 2rem; font-weight: 400; opacity: 0.6; padding: 2.5rem 0; }
.confidence { text-align: center; opacity: 0.7; }
#seen img, #weights img, #misread img { image-rendering: pixelated; }
#correct { align-items: center; }
#kept { font-size: 0.85rem; opacity: 0.75; }
progress { width: 100%; height: 0.8rem; accent-color: var(--color-accent); }
/* The misread gallery: as many columns as fit (Gradio's grid keeps its 8 columns of at least 100 px and
   cuts off the rest), each caption whole, wrapped. The weight grid starts below the label Gradio lays
   over an image's top edge. */
#misread .grid-container { grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)) !important; }
#misread .caption-label { white-space: normal; max-width: 100%; }
#weights img { padding-top: 2rem; box-sizing: border-box; }
/* A phone: the pad as wide as the screen and the answer right under it, both on screen without
   scrolling; the columns dissolve so that their parts can be ordered. */
@media (max-width: 640px) {
  #intro h1 { font-size: 1.5rem; margin: 0; }
  #intro p { display: none; }
  #draw-row { flex-direction: column; }
  #pad-col, #answer-col { display: contents; }
  #pad { order: 1; height: calc(100vw + 40px) !important; }
  #answer { order: 2; }
  #correct { order: 3; }
  #kept { order: 4; }
  #hint { order: 5; }
  #pad-actions { order: 6; }
  #probabilities { order: 7; }
  #seen { order: 8; }
  .digit { font-size: 4.5rem; }
  .digit.empty { font-size: 1.5rem; padding: 1rem 0; }
}
"""


def plot_titles(lang: str, title: str, y: str, x: str = "axis.epoch") -> dict:
    """A plot's title and axis titles in `lang` (its data columns keep their names for API callers)."""
    return dict(title=text(lang, title), x_title=text(lang, x), y_title=text(lang, y))


# Gradio scopes CSS to the app's container; the page margin around it is set from the head instead.
HEAD = "<style>@media (max-width: 640px) { .gradio-container .main.app { padding: 8px !important; } }</style>"

# Gradio's pad drops the brush on Clear: it switches to its upload tool, hidden here, and only says
# "select the draw tool", so the next stroke would draw nothing. Whenever the pad shows that prompt,
# pick the brush (the first of its tool buttons) again.
KEEP_BRUSH = """() => new MutationObserver(() => {
    const pad = document.getElementById('pad');
    if (pad && pad.querySelector('.empty.wrap')) pad.querySelector('button.quite-round')?.click();
}).observe(document.body, {subtree: true, childList: true})"""


@dataclass
class App:
    """The built app, and what /predict reads and writes (a bench adds a twin endpoint with them)."""
    blocks: gr.Blocks
    predict_inputs: list
    predict_outputs: list


def build() -> App:
    on_space = bool(os.environ.get("SPACE_ID"))   # Hugging Face sets SPACE_ID in every Space's environment
    collecting = FeedbackLimits.from_env().max_items > 0
    with gr.Blocks(title="Handwritten digits", delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown(I18N("intro"), elem_id="intro")
        model_key = gr.State(DEFAULT_KEY)
        new_model_key = gr.State(None)
        with gr.Tabs() as tabs:
            with gr.Tab(I18N("tab.draw"), id="draw") as draw_tab:
                with gr.Row(elem_id="draw-row"):
                    with gr.Column(scale=3, elem_id="pad-col"):
                        sketch = Sketchpad(value=blank_sketch(), canvas_size=(CANVAS, CANVAS), height=CANVAS + 120,
                                           brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
                                           eraser=gr.Eraser(default_size=BRUSH * 2), layers=False, transforms=(),
                                           label=I18N("pad"), buttons=[], format="png", elem_id="pad")
                        with gr.Row(elem_id="pad-actions"):
                            predict_btn = gr.Button(I18N("predict"), variant="primary", scale=1)
                            picker = Picker(scale=3, label=I18N("picker"), choices=picker_choices(),
                                             value=DEFAULT_KEY)
                    with gr.Column(scale=2, elem_id="answer-col"):
                        digit = gr.HTML(digit_html(None), label=I18N("prediction"), elem_id="answer")
                        with gr.Row(elem_id="correct", visible=collecting):
                            right_btn = gr.Button(I18N("feedback.right"), size="sm", scale=0, min_width=90,
                                                  interactive=False)
                            correction = gr.Radio(list(range(10)), label=I18N("feedback.wrong"), scale=4,
                                                  interactive=False)
                        kept = gr.Markdown(I18N("feedback.note"), elem_id="kept", visible=collecting)
                        hint = gr.Markdown(I18N("hint.empty"), label=I18N("hint"), elem_id="hint")
                        probabilities = gr.Label(num_top_classes=10, label=I18N("probabilities"),
                                                 show_heading=False, elem_id="probabilities")
                        seen = gr.Image(label=I18N("seen"), type="numpy", format="png", interactive=False,
                                        buttons=[], elem_id="seen", height=28 * CELL + 48)
            with gr.Tab(I18N("tab.train"), id="train") as train_tab:
                if not training_allowed():
                    gr.Markdown(I18N("train.off"))
                gr.Markdown(I18N("train.intro"))
                if on_space:
                    gr.Markdown(I18N("train.space"))
                with gr.Accordion(I18N("help.title"), open=False, elem_id="help"):
                    gr.Markdown(I18N("help.body"))
                with gr.Row():
                    epochs = gr.Slider(*LIMITS["epochs"], value=DEFAULTS.epochs, step=1,
                                       label=I18N("epochs"), info=I18N("help.epochs"))
                    batch_size = gr.Number(DEFAULTS.batch_size, precision=0, minimum=LIMITS["batch_size"][0],
                                           maximum=LIMITS["batch_size"][1], label=I18N("batch_size"),
                                           info=I18N("help.batch_size"))
                    lr = gr.Number(DEFAULTS.lr, minimum=LIMITS["lr"][0], maximum=LIMITS["lr"][1],
                                   label=I18N("lr"), info=I18N("help.lr"))
                    seed = gr.Number(DEFAULTS.seed, precision=0, minimum=LIMITS["seed"][0],
                                     maximum=LIMITS["seed"][1], label=I18N("seed"), info=I18N("help.seed"))
                with gr.Row():
                    lr_factor = gr.Slider(*LIMITS["lr_factor"], value=DEFAULTS.lr_factor, step=0.01,
                                          label=I18N("lr_factor"), info=I18N("help.lr_factor"))
                    lr_patience = gr.Slider(*LIMITS["lr_patience"], value=DEFAULTS.lr_patience, step=1,
                                            label=I18N("lr_patience"), info=I18N("help.lr_patience"))
                    augment = gr.Checkbox(DEFAULTS.augment, label=I18N("augment"), info=I18N("help.augment"))
                    # Counted when the tab is shown (feedback_checkbox), in the visitor's language.
                    use_feedback = gr.Checkbox(False, label=I18N("feedback.include.tab"), interactive=False)
                with gr.Row():
                    train_btn = gr.Button(I18N("train"), variant="primary", interactive=training_allowed())
                    stop_btn = gr.Button(I18N("stop"), variant="stop", interactive=False)
                status = gr.Markdown(I18N("no_run"), label=I18N("status"))
                progress = gr.HTML('<progress value="0" max="1"></progress>', label=I18N("progress"))
                with gr.Row():
                    train_plot = gr.LinePlot(x="epoch", y="loss", label=I18N("plot.train"), height=260,
                                             **plot_titles("en", "title.train", "axis.loss"))
                    epoch_plot = gr.ScatterPlot(x="epoch", y="valid_loss", label=I18N("plot.valid"), height=260,
                                                y_lim=[0, None],
                                                **plot_titles("en", "title.valid", "axis.loss"))
                    lr_plot = gr.LinePlot(x="epoch", y="lr", label=I18N("plot.lr"), height=260,
                                          **plot_titles("en", "title.lr", "axis.lr"))
                with gr.Row():
                    with gr.Column(scale=2):
                        probe_plot = gr.BarPlot(x="digit", y="probability", y_lim=[0, 1], height=220,
                                                label=I18N("probe.plot"),
                                                **plot_titles("en", "probe.title", "probe.axis", "axis.digit"))
                        probe_line = gr.Markdown(I18N("probe.none"), label=I18N("probe.readings"))
                    with gr.Column(scale=3):
                        weights = gr.Image(label=I18N("weights"), type="pil", format="png", interactive=False,
                                           buttons=[], elem_id="weights", height=330)
                result = gr.Markdown(label=I18N("result"))
                use_btn = gr.Button(I18N("use"), visible=False)
                with gr.Row():
                    confusion = gr.Plot(label=I18N("confusion"), elem_id="confusion")
                    misread = gr.Gallery(label=I18N("misread"), columns=8, height=330, object_fit="contain",
                                         elem_id="misread", interactive=False, buttons=[])
                details = gr.JSON(visible=False, label=I18N("details"))

        def localize(model_key: str, request: gr.Request) -> tuple:
            """What the server writes into the page, in the visitor's language (the rest is resolved by
            the browser from I18N): the empty answer, the picker's labels, the plots' titles."""
            lang = lang_of(request)
            return (digit_html(None, lang=lang), picker_update(model_key, request),
                    gr.LinePlot(**plot_titles(lang, "title.train", "axis.loss")),
                    gr.ScatterPlot(**plot_titles(lang, "title.valid", "axis.loss")),
                    gr.LinePlot(**plot_titles(lang, "title.lr", "axis.lr")),
                    gr.BarPlot(**plot_titles(lang, "probe.title", "probe.axis", "axis.digit")))

        demo.load(localize, model_key, [digit, picker, train_plot, epoch_plot, lr_plot, probe_plot],
                  api_visibility="private", show_progress="hidden")

        shown = [probabilities, digit, seen, hint]
        predicting = dict(show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="predict")
        # The corrections follow the answer in an event of their own, so that /predict's outputs stay as
        # API callers know them.
        gr.on([sketch.change, predict_btn.click], predict, [sketch, model_key], shown,
              api_name="predict", trigger_mode="always_last", **predicting).then(
            correctable, probabilities, [right_btn, correction], api_visibility="private", queue=False,
            show_progress="hidden")
        picker.change(choose_model, [picker, model_key], [model_key, picker], api_visibility="private").then(
            predict, [sketch, model_key], shown, api_visibility="private", **predicting)
        draw_tab.select(picker_update, model_key, picker, api_visibility="private")
        correction.input(save_correction, [sketch, correction, model_key], [kept, correction], api_name="feedback",
                         concurrency_id="predict", concurrency_limit=PREDICT_CONCURRENCY)
        right_btn.click(confirm_answer, [sketch, model_key], kept, api_visibility="private", concurrency_id="predict")
        train_tab.select(feedback_checkbox, None, use_feedback, api_visibility="private")
        # Stop can act from the moment Train is pressed until the run's stream ends, however it ends.
        train_btn.click(run_started, epochs, [stop_btn, epoch_plot], api_visibility="private", queue=False)
        train_btn.click(train_model, [epochs, batch_size, lr, lr_factor, lr_patience, augment, seed, use_feedback,
                                      sketch],
                        [status, progress, train_plot, epoch_plot, lr_plot, result, use_btn, new_model_key,
                         probe_plot, probe_line, weights, confusion, misread, details],
                        api_name="train", concurrency_limit=4, show_progress="minimal").then(
            lambda: gr.Button(interactive=False), None, stop_btn, api_visibility="private", queue=False)
        stop_btn.click(stop_training, None, status, api_name="stop", concurrency_limit=None)
        use_btn.click(use_model, new_model_key, [model_key, picker, tabs], api_visibility="private").then(
            predict, [sketch, model_key], shown, api_visibility="private", **predicting)
    return App(demo, [sketch, model_key], shown)


def launch(app: App, share: bool = False) -> None:
    """Serve `app` with this server's limits (webapp.guards.limits)."""
    torch.set_num_threads(TORCH_THREADS)
    guard = Middleware(UploadGuard, cache_dir=app.blocks.GRADIO_CACHE, mb_per_minute=UPLOAD_MB_PER_MINUTE,
                       cache_max_mb=CACHE_MAX_MB)
    # quiet: Gradio's own startup lines tell a script's author to set `share=True` in launch(); this
    # app's visitor runs `python app.py --share` instead, so the lines are printed here.
    app.blocks.launch(share=share, css=CSS, head=HEAD, js=KEEP_BRUSH, max_file_size=MAX_UPLOAD, i18n=I18N,
                      app_kwargs={"middleware": [guard]}, prevent_thread_lock=True, quiet=True)
    print(f"* Running on local URL:  {app.blocks.local_url}", flush=True)
    print(f"* Running on public URL: {app.blocks.share_url}" if app.blocks.share_url else
          "* For a public link as well, run `python app.py --share`.", flush=True)
    if training_allowed():
        # Once the server answers, in the background: the first prediction need not wait for MNIST, the
        # training process and the style copies, which the first Train then finds ready.
        threading.Thread(target=warm, name="warm training", daemon=True).start()
    app.blocks.block_thread()


def warm() -> None:
    """Get the training process ready for a run of the Train tab's defaults. Best effort: a failure here
    (MNIST missing, say) is met again, with its message, by the first Train."""
    try:
        slot.warm(TRAIN_TAB)
    except Exception as e:
        print(f"training process not warmed: {type(e).__name__}: {e}", flush=True)
    import matplotlib.figure  # noqa: F401  (it draws the confusion matrix: imported now, not when a run ends)
