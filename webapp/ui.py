"""The Blocks: both tabs' layout and the wiring of their events to the handlers in webapp.draw.tab and
webapp.training.tab. `build()` makes the app; `launch()` serves it as `python app.py` does."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import gradio as gr
import torch
from starlette.middleware import Middleware

from mnist_model import SIDE

from .draw import CANVAS
from .draw.feedback import FeedbackLimits
from .draw.look_inside import INSIDE_CSS, LookInside, explain_data
from .draw.personal import Handwriting
from .draw.tab import (BRUSH, CELL, DigitChoice, Picker, blank_sketch, choose_model, confirm_answer, correctable,
                       digit_html, end_session, forget, personal, picker_choices, picker_update, predict,
                       save_correction, settle)
from .guards.bodies import BodyGuard
from .guards.connections import use_guarded_protocol
from .guards.image_output import AtomicImage
from .guards.limits import (CACHE_CLEANUP, CACHE_MAX_MB, MAX_UPLOAD, PREDICT_CONCURRENCY, SESSIONS_KEPT,
                            TORCH_THREADS, UPLOAD_MB_PER_MINUTE, training_allowed)
from .guards.log_limit import configure_logging
from .guards.routes import ClosedRoutes
from .guards.sketchpad import Sketchpad
from .guards.upload_guard import UploadGuard
from .i18n import I18N, lang_of, note_callers_language, text
from .training.compare import table
from .training.form import TAB_FIELDS, TRAIN_OUTPUTS, TRAIN_TAB, control
from .training.runs import DEFAULT_KEY
from .training.tab import (apply_link, feedback_checkbox, recolour, remove_run, run_started, runs_data,
                           settings_link, show_runs, slot, stop_training, train_model, use_model, use_run)

ROW = 5                  # the Train tab's settings per row
PLOT_HEIGHT = 400        # px: room for a legend of several runs under each plot

CSS = """
.digit { font-size: 7rem; font-weight: 700; line-height: 1; text-align: center; }
.digit.empty { font-size: 2rem; font-weight: 400; opacity: 0.6; padding: 2.5rem 0; }
.confidence { text-align: center; opacity: 0.7; }
#seen img, #weights img, #misread img, #inside img { image-rendering: pixelated; }
""" + INSIDE_CSS + """
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
  #personal { order: 3; }
  #correct { order: 4; }
  #kept { order: 5; }
  #forget { order: 6; }
  #hint { order: 7; }
  #pad-actions { order: 8; }
  #probabilities { order: 9; }
  #seen { order: 10; }
  .digit { font-size: 4.5rem; }
  .digit.empty { font-size: 1.5rem; padding: 1rem 0; }
  /* The Train tab's settings, plots and run actions: one a line, each its own height. */
  .stacked { flex-direction: column; }
  .stacked > * { flex: 0 0 auto !important; }
}
"""


def plot_titles(lang: str, title: str, y: str, x: str = "axis.epoch", run: bool = False) -> dict:
    """A plot's title and axis titles in `lang`, and its legend's when it draws runs (its data columns keep
    their names for API callers)."""
    titles = dict(title=text(lang, title), x_title=text(lang, x), y_title=text(lang, y))
    return {**titles, "color_title": text(lang, "axis.run")} if run else titles


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
    configure_logging()     # before the runs folder is listed
    on_space = bool(os.environ.get("SPACE_ID"))   # Hugging Face sets SPACE_ID in every Space's environment
    collecting = FeedbackLimits.from_env().max_items > 0
    with gr.Blocks(title="Handwritten digits", delete_cache=CACHE_CLEANUP) as demo:
        gr.Markdown(I18N("intro"), elem_id="intro")
        model_key = gr.State(DEFAULT_KEY)
        new_model_key = gr.State(None)
        hand = gr.State(Handwriting())        # the visitor's labelled 28 x 28 digits (webapp.draw.personal)
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
                        reader = gr.Markdown("", elem_id="personal")
                        with gr.Row(elem_id="correct", visible=collecting):
                            right_btn = gr.Button(I18N("feedback.right"), size="sm", scale=0, min_width=90,
                                                  interactive=False)
                            correction = DigitChoice(list(range(10)), label=I18N("feedback.wrong"), scale=4,
                                                     interactive=False)
                        kept = gr.Markdown(I18N("feedback.note"), elem_id="kept", visible=collecting)
                        with gr.Row(elem_id="forget", visible=collecting):
                            gr.Markdown(I18N("personal.note"))
                            forget_btn = gr.Button(I18N("personal.forget"), size="sm", scale=0, min_width=160)
                        hint = gr.Markdown(I18N("hint.empty"), label=I18N("hint"), elem_id="hint")
                        probabilities = gr.Label(num_top_classes=10, label=I18N("probabilities"),
                                                 show_heading=False, elem_id="probabilities")
                        seen = AtomicImage(label=I18N("seen"), type="numpy", format="png", interactive=False,
                                           buttons=[], elem_id="seen", height=SIDE * CELL + 48)
                        read_by = gr.JSON(visible=False, label=I18N("personal.read_by"))
                look = LookInside()
                # /explain, for API clients only: the model key's hidden box triggers it (the page has the view above)
                explain_key = gr.Textbox(visible=False)
                explained = gr.JSON(visible=False)
            with gr.Tab(I18N("tab.train"), id="train") as train_tab:
                if not training_allowed():
                    gr.Markdown(I18N("train.off"))
                gr.Markdown(I18N("train.intro"))
                if on_space:
                    gr.Markdown(I18N("train.space"))
                with gr.Accordion(I18N("help.title"), open=False, elem_id="help"):
                    gr.Markdown(I18N("help.body"))
                settings = {}
                for row in range(0, len(TAB_FIELDS), ROW):
                    with gr.Row(elem_classes="stacked"):
                        settings.update({name: control(name) for name in TAB_FIELDS[row:row + ROW]})
                with gr.Row(elem_classes="stacked"):
                    # Counted when the tab is shown (feedback_checkbox), in the visitor's language.
                    use_feedback = gr.Checkbox(False, label=I18N("feedback.include.tab"), interactive=False)
                    link_btn = gr.Button(I18N("compare.link"), size="sm")
                    link_box = gr.Textbox(label=I18N("compare.link.box"), max_lines=1, buttons=["copy"],
                                          elem_id="settings-link")
                with gr.Row():
                    train_btn = gr.Button(I18N("train"), variant="primary", interactive=training_allowed())
                    stop_btn = gr.Button(I18N("stop"), variant="stop", interactive=False)
                status = gr.Markdown(I18N("no_run"), label=I18N("status"))
                progress = gr.HTML('<progress value="0" max="1"></progress>', label=I18N("progress"))
                with gr.Row(elem_classes="stacked"):
                    train_plot = gr.LinePlot(x="epoch", y="loss", color="run", label=I18N("plot.train"),
                                             height=PLOT_HEIGHT, **plot_titles("en", "title.train", "axis.loss", run=True))
                    epoch_plot = gr.ScatterPlot(x="epoch", y="valid_loss", color="run", label=I18N("plot.valid"),
                                                height=PLOT_HEIGHT, y_lim=[0, None],
                                                **plot_titles("en", "title.valid", "axis.loss", run=True))
                    lr_plot = gr.LinePlot(x="epoch", y="lr", color="run", label=I18N("plot.lr"), height=PLOT_HEIGHT,
                                          **plot_titles("en", "title.lr", "axis.lr", run=True))
                gr.Markdown(I18N("compare.heading"))
                runs = gr.State([])
                with gr.Row(elem_id="runs-actions", elem_classes="stacked"):
                    runs_shown = gr.CheckboxGroup([], label=I18N("compare.shown"), elem_id="runs-shown")
                    runs_pick = gr.Dropdown([], label=I18N("compare.pick"), elem_id="runs-pick")
                    use_run_btn = gr.Button(I18N("compare.use"), size="sm")
                    remove_btn = gr.Button(I18N("compare.remove"), size="sm")
                runs_table = gr.Dataframe(table([], "en"), label=I18N("compare.table"), interactive=False,
                                          elem_id="runs-table")
                runs_json = gr.JSON(visible=False, label=I18N("compare.table"))
                with gr.Row():
                    with gr.Column(scale=2):
                        probe_plot = gr.BarPlot(x="digit", y="probability", y_lim=[0, 1], height=220,
                                                label=I18N("probe.plot"),
                                                **plot_titles("en", "probe.title", "probe.axis", "axis.digit"))
                        probe_line = gr.Markdown(I18N("probe.none"), label=I18N("probe.readings"))
                    with gr.Column(scale=3):
                        weights = AtomicImage(label=I18N("weights"), type="pil", format="png",
                                              interactive=False, buttons=[], elem_id="weights", height=330)
                result = gr.Markdown(label=I18N("result"))
                use_btn = gr.Button(I18N("use"), visible=False)
                with gr.Row():
                    confusion = gr.Plot(label=I18N("confusion"), elem_id="confusion")
                    misread = gr.Gallery(label=I18N("misread"), columns=8, height=330, object_fit="contain",
                                         elem_id="misread", interactive=False, buttons=[])
                details = gr.JSON(visible=False, label=I18N("details"))

        def localize(model_key: str, request: gr.Request) -> tuple:
            """What the server writes into the page, in the visitor's language (the rest is resolved by
            the browser from I18N): the empty answer, the picker's labels, the plots' titles, the runs table's
            headers."""
            lang = lang_of(request)
            return (digit_html(None, lang=lang), picker_update(model_key, request),
                    gr.LinePlot(**plot_titles(lang, "title.train", "axis.loss", run=True)),
                    gr.ScatterPlot(**plot_titles(lang, "title.valid", "axis.loss", run=True)),
                    gr.LinePlot(**plot_titles(lang, "title.lr", "axis.lr", run=True)),
                    gr.BarPlot(**plot_titles(lang, "probe.title", "probe.axis", "axis.digit")), table([], lang))

        demo.load(localize, model_key, [digit, picker, train_plot, epoch_plot, lr_plot, probe_plot, runs_table],
                  api_visibility="private", show_progress="hidden")

        shown = [probabilities, digit, seen, hint, reader, read_by]
        reading = [sketch, model_key, hand]
        predicting = dict(show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="predict")
        again = dict(api_visibility="private", **predicting)     # the drawing read again after a change of reader
        # The corrections follow the answer in an event of their own, so that /predict's outputs stay as
        # API callers know them.
        answered = gr.on([sketch.change, predict_btn.click], predict, reading, shown,
                         api_name="predict", trigger_mode="always_last", **predicting)
        answered.then(correctable, probabilities, [right_btn, correction], api_visibility="private", queue=False,
                      show_progress="hidden")
        look.wire(sketch, model_key, predicting)
        look.follow(answered)
        look.follow(picker.change(choose_model, [picker, model_key], [model_key, picker], api_visibility="private")
                    .then(predict, reading, shown, **again))
        explain_key.submit(explain_data, [sketch, explain_key], explained, api_name="explain", **predicting)
        draw_tab.select(picker_update, model_key, picker, api_visibility="private")
        # After a correction the page waits for the visitor's model (settle: no CPU, no prediction's place)
        # and then reads the drawing with it.
        waiting = dict(api_visibility="private", concurrency_limit=None, show_progress="hidden")
        correction.input(save_correction, [sketch, correction, model_key, hand], [kept, correction, hand],
                         api_name="feedback", concurrency_id="predict", concurrency_limit=PREDICT_CONCURRENCY).then(
            settle, [model_key, hand], None, **waiting).then(predict, reading, shown, **again)
        right_btn.click(confirm_answer, [sketch, model_key, hand], [kept, hand], api_visibility="private",
                        concurrency_id="predict").then(settle, [model_key, hand], None, **waiting).then(
            predict, reading, shown, **again)
        forget_btn.click(forget, model_key, [hand, reader], api_name="forget").then(predict, reading, shown, **again)
        demo.unload(end_session)
        train_tab.select(feedback_checkbox, None, use_feedback, api_visibility="private")
        outputs = dict(status=status, progress=progress, train_loss=train_plot, valid_loss=epoch_plot, lr=lr_plot,
                       result=result, use=use_btn, new_model=new_model_key, probe=probe_plot, readings=probe_line,
                       weights=weights, confusion=confusion, misread=misread, details=details, runs=runs,
                       runs_table=runs_table, runs_shown=runs_shown, runs_pick=runs_pick)
        # By name: gradio_client callers pass the settings as keywords (or positionally, in TRAIN_INPUTS' order).
        plots = [train_plot, epoch_plot, lr_plot]
        recolouring = dict(fn=recolour, inputs=runs, outputs=plots, api_visibility="private", show_progress="hidden")
        # Stop can act from the moment Train is pressed until the run's stream ends, however it ends.
        train_btn.click(run_started, settings["epochs"], [stop_btn, epoch_plot], api_visibility="private",
                        queue=False)
        train_btn.click(train_model, [], [outputs[name] for name in TRAIN_OUTPUTS],
                        inputs_kwargs={**settings, "use_feedback": use_feedback, "sketch": sketch, "runs": runs},
                        api_name="train", concurrency_limit=4, show_progress="minimal").then(**recolouring).then(
            lambda: gr.Button(interactive=False), None, stop_btn, api_visibility="private", queue=False)
        runs_shown.input(show_runs, [runs, runs_shown], [runs, *plots, runs_table],
                         api_visibility="private").then(**recolouring)
        remove_btn.click(remove_run, [runs, runs_pick], [runs, *plots, runs_table, runs_shown, runs_pick],
                         api_visibility="private").then(**recolouring)
        look.follow(use_run_btn.click(use_run, [runs, runs_pick, model_key], [model_key, picker, tabs],
                                      api_visibility="private").then(predict, reading, shown, **again))
        runs.change(runs_data, runs, runs_json, api_name="runs")
        # The page's own address goes in front of the query the server makes, and the link to the clipboard.
        link_btn.click(settings_link, [], link_box, inputs_kwargs=settings, api_visibility="private").then(
            None, link_box, link_box, js="(q) => { const url = location.origin + location.pathname + q; "
                                         "navigator.clipboard?.writeText(url).catch(() => {}); return url; }")
        demo.load(apply_link, None, [tabs, *settings.values()], api_visibility="private", show_progress="hidden")
        stop_btn.click(stop_training, None, status, api_name="stop", concurrency_limit=None)
        look.follow(use_btn.click(use_model, new_model_key, [model_key, picker, tabs], api_visibility="private")
                    .then(predict, reading, shown, **again))
    note_callers_language(demo)     # the pad's refusals come before any handler reads the request
    return App(demo, reading, shown)


def launch(app: App, share: bool = False) -> None:
    """Serve `app` with this server's limits (webapp.guards.limits)."""
    torch.set_num_threads(TORCH_THREADS)
    use_guarded_protocol()      # before Gradio starts uvicorn: from the first connection
    uploads = UploadGuard(cache_dir=app.blocks.GRADIO_CACHE, mb_per_minute=UPLOAD_MB_PER_MINUTE,
                          cache_max_mb=CACHE_MAX_MB)
    # quiet: Gradio's own startup lines tell a script's author to set `share=True` in launch(); this
    # app's visitor runs `python app.py --share` instead, so the lines are printed here.
    app.blocks.launch(share=share, css=CSS, head=HEAD, js=KEEP_BRUSH, max_file_size=MAX_UPLOAD, i18n=I18N,
                      state_session_capacity=SESSIONS_KEPT,
                      app_kwargs={"middleware": [Middleware(ClosedRoutes), Middleware(BodyGuard, uploads=uploads)]},
                      prevent_thread_lock=True, quiet=True)
    print(f"* Running on local URL:  {app.blocks.local_url}", flush=True)
    print(f"* Running on public URL: {app.blocks.share_url}" if app.blocks.share_url else
          "* For a public link as well, run `python app.py --share`.", flush=True)
    configure_logging()
    if FeedbackLimits.from_env().max_items > 0:
        personal.warm()          # the replay digits read on the adaptation thread, before the first correction
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
