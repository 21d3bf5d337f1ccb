"""The Train tab's handlers: settings (the corrected-drawings switch, the Draw tab's sketch) in, a stream
of the run's status, progress, plots beside the visitor's earlier runs, the drawing as the network reads it,
its first-layer weights and, at the end, what it gets wrong out (also what /train streams to API callers);
Stop; handing a model to Draw; the runs compared (shown, removed, as data); settings in the page's link."""
from __future__ import annotations

from dataclasses import replace

import gradio as gr
import numpy as np
from gradio.processing_utils import save_pil_to_cache
from gradio.utils import get_upload_folder
from PIL import Image

from mnist_model import ImageError, to_mnist
from train import DataError
from train.feedback import FeedbackError, feedback_dir, read_feedback
from train.figures import article, confusion_figure, weight_grid

from ..draw.tab import choose_model, picker_update
from ..guards.limits import OverServerLimit, training_allowed
from ..i18n import error_text, lang_of, text
from .compare import PlotUpdates, RunRecord, kept, next_run, recoloured, record, table, table_data, typed_frame
from .form import TAB_FIELDS, TRAIN_OUTPUTS, link_settings, setting_text, settings_query, tab_config
from .runs import run_key
from .slot import RunInProgress, Snapshot, TrainingSlot, busy_text, run_training
from .worker import SERVER_PROCESS, TrainingDied

slot = TrainingSlot(SERVER_PROCESS)


def details(snap: Snapshot) -> dict:
    """The run's new outputs as plain data, for API callers: the drawing's readings per epoch, and at the
    end the test confusion matrix ([true][predicted]) and the misread test digits (index into MNIST's test set)."""
    done = snap.done
    return {"probe": snap.probe,
            "confusion": done.confusion if done is not None else None,
            "misread": [{"index": m.index, "label": m.label, "predicted": m.predicted, "confidence": m.confidence}
                        for m in done.misread] if done is not None else []}


def epoch_views(snap: Snapshot, lang: str) -> tuple:
    """What changes once per epoch or at the end: the drawing's probabilities and readings, the weight grid,
    the confusion matrix, the misread gallery. Drawn once and kept on the snapshot, since a snapshot is
    sent every half second."""
    key = (len(snap.epochs), snap.done is not None, lang)
    if key in snap.drawn:
        return snap.drawn[key]
    if snap.probe:
        last = snap.probe[-1]["probabilities"]
        bars = typed_frame([{"digit": str(d), "probability": p} for d, p in enumerate(last)], digit=str, probability=float)
        readings = " · ".join(f"{r['epoch']}: **{int(np.argmax(r['probabilities']))}** "
                              f"({max(r['probabilities']):.0%})" for r in snap.probe)
        line = text(lang, "probe.line", readings=readings)
    else:
        bars = typed_frame([], digit=str, probability=float)
        line = text(lang, "probe.waiting" if snap.has_probe else "probe.none")
    # As a 256-colour palette image: its PNG is a third of the RGB one's size. Saved to Gradio's cache
    # here, once per epoch, as the Image output would save it: handed a picture, it would encode the
    # same PNG again with every update, on the cores the run trains on.
    grid = None
    if snap.first_layer is not None:
        picture = Image.fromarray(weight_grid(snap.first_layer)).quantize(256, Image.Quantize.FASTOCTREE)
        grid = save_pil_to_cache(picture, get_upload_folder(), name="weights", format="png")
    done = snap.done
    confusion = None
    if done is not None and done.confusion is not None:
        counts = np.asarray(done.confusion)
        words = {w: text(lang, f"confusion.{w}") for w in ("predicted", "true", "digits")}
        words["title"] = text(lang, "confusion.title", right=int(counts.trace()), total=int(counts.sum()))
        confusion = confusion_figure(done.confusion, words)
    gallery = [(m.image, text(lang, "misread.caption", article=article(m.label), label=m.label, predicted=m.predicted,
                              p=m.confidence))
               for m in done.misread] if done is not None else []
    result = (bars, line, grid, confusion, gallery, details(snap))
    snap.drawn = {key: result}
    return result


def train_outputs(snap: Snapshot, lang: str, runs: list[RunRecord], run: tuple[int, str],
                  plots: PlotUpdates) -> tuple:
    """A snapshot of run `run` (its number and colour) as /train's outputs (form.TRAIN_OUTPUTS), texts in `lang`: status, progress
    bar, the three plots (this run beside the visitor's earlier `runs`), result, button, new key, the
    drawing's probabilities and readings, the weight grid, confusion matrix, misread gallery, details;
    when the run has ended, the runs with this one added, their table and the lists that pick them."""
    done = snap.done
    result, new_key = "", None
    if done is not None:
        if done.checkpoint is not None:
            new_key = run_key(done.checkpoint)
            early = text(lang, "result.early") if done.stopped else ""
            result = text(lang, "result.saved", acc=done.test_acc, early=early, key=new_key)
        else:
            result = text(lang, "result.none", detail=done.message)
    compared = kept(runs, record(*run, snap, new_key))
    outputs = dict(zip(("probe", "readings", "weights", "confusion", "misread", "details"), epoch_views(snap, lang)),
                   status=snap.status(lang), progress=f'<progress value="{snap.fraction:.4f}" max="1"></progress>',
                   result=result, use=gr.Button(visible=new_key is not None), new_model=new_key,
                   **plots(compared, lang))
    if done is None:
        outputs.update(runs=gr.skip(), runs_table=gr.skip(), runs_shown=gr.skip(), runs_pick=gr.skip())
    else:
        outputs.update(runs_lists(compared, lang), runs=compared)
    return tuple(outputs[name] for name in TRAIN_OUTPUTS)


def runs_lists(runs: list[RunRecord], lang: str) -> dict:
    """The runs table, the runs shown in the plots and the list to pick a run from."""
    names = [(f"#{r.number}", r.number) for r in runs]
    return {"runs_table": table(runs, lang), "runs_shown": gr.CheckboxGroup(names, value=[r.number for r in runs
                                                                                        if r.shown]),
            "runs_pick": gr.Dropdown(names, value=runs[-1].number if runs else None)}


def feedback_count() -> int:
    """How many corrected drawings this server holds (0 when it holds none or cannot read them)."""
    try:
        return len(read_feedback(feedback_dir(), check_images=False))
    except FeedbackError:
        return 0


def feedback_checkbox(request: gr.Request | None = None) -> gr.Checkbox:
    """The Train tab's checkbox, labelled with the current count (refreshed whenever the tab is shown)."""
    n = feedback_count()
    return gr.Checkbox(label=text(lang_of(request), "feedback.include", n=n), interactive=n > 0)


def read_sketch(sketch, lang: str) -> np.ndarray | None:
    """The drawing as the network will read it (uint8 28 x 28), or None when there is none."""
    if sketch is None:
        return None
    try:
        probe = to_mnist(sketch)
    except ImageError as e:
        raise gr.Error(text(lang, "probe.unreadable", detail=e)) from None
    return probe if probe.any() else None


def train_model(runs: list[RunRecord], use_feedback: bool = False, sketch: dict | None = None,
                request: gr.Request = None, **settings):
    """Train one model of the tab's `settings` (form.TAB_FIELDS by name) and stream its progress beside the
    visitor's earlier `runs`; one run at a time per server. `use_feedback` adds the drawings visitors
    corrected in the Draw tab to the training digits; `sketch`, the Draw tab's drawing (optional), is read
    by the network after every epoch."""
    lang = lang_of(request)
    if not training_allowed():
        raise gr.Error(text(lang, "err.training_off"))
    try:
        config = tab_config(settings)
    except (TypeError, ValueError) as e:
        raise gr.Error(error_text(lang, e)) from None
    probe = read_sketch(sketch, lang)
    runs = runs or []
    run, plots = next_run(runs), PlotUpdates()
    try:
        for snap in run_training(slot, config, owner=request.session_hash,
                                 feedback=feedback_dir() if use_feedback else None, probe=probe):
            yield train_outputs(snap, lang, runs, run, plots)
    except RunInProgress as e:
        raise gr.Error(busy_text(lang, e.running)) from None
    except (TrainingDied, OverServerLimit, DataError, FeedbackError) as e:
        raise gr.Error(error_text(lang, e)) from None


def run_started(epochs: float) -> tuple[gr.Button, gr.ScatterPlot]:
    """The page the moment Train is pressed: Stop can act, and the valid-loss plot spans the run's epochs
    with room around them (on the points' own range, the first and last one are cut in half)."""
    return gr.Button(interactive=True), gr.ScatterPlot(x_lim=[0.5, epochs + 0.5])


def stop_training(request: gr.Request) -> str:
    """Stop the caller's own run; its best weights so far are tested and saved. Returns a status line."""
    stopped = slot.request_stop(request.session_hash)
    return text(lang_of(request), "stop.sent" if stopped else "stop.none")


def use_model(model_key: str, request: gr.Request) -> tuple[str, gr.Dropdown, gr.Tabs]:
    """Pick the run just trained and show the Draw tab."""
    return model_key, picker_update(model_key, request), gr.Tabs(selected="draw")


def show_runs(runs: list[RunRecord], shown: list[int], request: gr.Request) -> tuple:
    """Draw only the `shown` runs: the runs, the three plots' data (recolour follows), the table."""
    lang = lang_of(request)
    runs = [replace(r, shown=r.number in shown) for r in runs]
    drawn = PlotUpdates()(runs, lang)
    return runs, drawn["train_loss"], drawn["valid_loss"], drawn["lr"], table(runs, lang)


def remove_run(runs: list[RunRecord], number: int | None, request: gr.Request) -> tuple:
    """Drop run `number` from the comparison (its saved model stays in the picker): the runs, the three
    plots' data (recolour follows), the table, the shown runs and the pick list."""
    lang = lang_of(request)
    if number is None:
        raise gr.Error(text(lang, "compare.none"))
    runs = [r for r in runs if r.number != number]
    drawn, lists = PlotUpdates()(runs, lang), runs_lists(runs, lang)
    return (runs, drawn["train_loss"], drawn["valid_loss"], drawn["lr"], lists["runs_table"], lists["runs_shown"],
            lists["runs_pick"])


def use_run(runs: list[RunRecord], number: int | None, current: str, request: gr.Request) -> tuple:
    """Pick run `number`'s model for Draw and show the Draw tab (or say why not, keeping `current`)."""
    lang = lang_of(request)
    run = next((r for r in runs if r.number == number), None)
    if run is None:
        raise gr.Error(text(lang, "compare.none"))
    if run.key is None:
        raise gr.Error(text(lang, "compare.no_model", run=f"#{run.number}"))
    key, picker = choose_model(run.key, current, request)
    return key, picker, gr.Tabs(selected="draw" if key == run.key else "train")


def recolour(runs: list[RunRecord], request: gr.Request) -> tuple:
    """The three plots' colours for the runs they were last sent: drawn anew with every run in the legend."""
    drawn = recoloured(runs or [], lang_of(request))
    return drawn["train_loss"], drawn["valid_loss"], drawn["lr"]


def runs_data(runs: list[RunRecord]) -> list[dict]:
    """This visitor's runs as plain data (/runs)."""
    return table_data(runs or [])


def apply_link(request: gr.Request) -> tuple:
    """The settings in the page's link (?tab=train&lr=0.1&hidden=32): the Train tab shown with them. Bad
    values get the form's message and change nothing."""
    query = dict(request.query_params) if request is not None else {}
    settings = link_settings(query)
    if not settings:
        return (gr.Tabs(selected="train") if query.get("tab") == "train" else gr.skip(),
                *(gr.skip() for _ in TAB_FIELDS))
    lang = lang_of(request)
    try:
        config = tab_config(settings)
    except (TypeError, ValueError) as e:
        raise gr.Error(text(lang, "link.bad", detail=error_text(lang, e))) from None
    values = {n: getattr(config, n) for n in TAB_FIELDS}
    values["hidden"] = setting_text(values["hidden"])
    return gr.Tabs(selected="train"), *(values[n] if n in settings else gr.skip() for n in TAB_FIELDS)


def settings_link(request: gr.Request = None, **settings) -> str:
    """The query string of a link to the tab with these settings (the page adds its own address)."""
    lang = lang_of(request)
    try:
        return settings_query(settings)
    except (TypeError, ValueError) as e:
        raise gr.Error(error_text(lang, e)) from None
