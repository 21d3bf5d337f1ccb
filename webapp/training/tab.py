"""The Train tab's handlers: hyperparameters (the corrected-drawings switch, the Draw tab's sketch) in, a
stream of the run's status, progress, plots, the drawing as the network reads it, its first-layer weights
and, at the end, what it gets wrong out (also what /train streams to API callers); Stop; handing the new
model to Draw."""
from __future__ import annotations

from dataclasses import replace

import gradio as gr
import numpy as np
import pandas as pd
from gradio.processing_utils import save_pil_to_cache
from gradio.utils import get_upload_folder
from PIL import Image

from mnist_model import ImageError, to_mnist
from train import DataError
from train.feedback import FeedbackError, read_feedback
from train.figures import article, confusion_figure, weight_grid

from ..draw.feedback import feedback_dir
from ..draw.tab import picker_update
from ..guards.limits import OverServerLimit, training_allowed
from ..i18n import error_text, lang_of, text
from .form import TRAIN_TAB
from .runs import run_key
from .slot import RunInProgress, Snapshot, TrainingSlot, busy_text, run_training
from .worker import TrainingDied

slot = TrainingSlot()


def whole(value: float | int) -> float | int:
    """Sliders send 3.0 for 3; keep anything else as it came so that validation names it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def frame(rows: list[dict], **dtypes: type) -> pd.DataFrame:
    """Typed even when empty: a plot given an untyped empty frame draws its axes as categories for good.
    (No colour column either: Gradio 6 fixes a plot's colour domain at its first, empty, value.)"""
    return pd.DataFrame(rows, columns=list(dtypes)).astype(dtypes)


def details(snap: Snapshot) -> dict:
    """The run's new outputs as plain data, for API callers: the drawing's readings per epoch, and at the
    end the test confusion matrix ([true][predicted]) and the misread test digits (index into MNIST's test set)."""
    done = snap.done
    return {"probe": snap.probe,
            "confusion": done.confusion if done is not None else None,
            "misread": [{"index": m.index, "label": m.label, "predicted": m.predicted, "confidence": m.confidence}
                        for m in done.misread] if done is not None else []}


def views(snap: Snapshot, lang: str) -> tuple:
    """What changes once per epoch or at the end: the valid-loss and learning-rate frames, the drawing's
    probabilities and readings, the weight grid, the confusion matrix, the misread gallery. Drawn once
    and kept on the snapshot, since a snapshot is sent every half second."""
    key = (len(snap.epochs), snap.done is not None, lang)
    if key in snap.drawn:
        return snap.drawn[key]
    valid = frame([{"epoch": r["epoch"], "valid_loss": r["valid_loss"]} for r in snap.epochs],
                  epoch=float, valid_loss=float)
    # The learning rate each epoch trained with: the initial one, then the scheduler's after each epoch.
    lrs = frame([{"epoch": 0.0, "lr": snap.config.lr}] + [{"epoch": r["epoch"], "lr": r["lr"]} for r in snap.epochs],
                epoch=float, lr=float)
    if snap.probe:
        last = snap.probe[-1]["probabilities"]
        bars = frame([{"digit": str(d), "probability": p} for d, p in enumerate(last)], digit=str, probability=float)
        readings = " · ".join(f"{r['epoch']}: **{int(np.argmax(r['probabilities']))}** "
                              f"({max(r['probabilities']):.0%})" for r in snap.probe)
        line = text(lang, "probe.line", readings=readings)
    else:
        bars = frame([], digit=str, probability=float)
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
    result = (valid, lrs, bars, line, grid, confusion, gallery, details(snap))
    snap.drawn = {key: result}
    return result


def train_outputs(snap: Snapshot, lang: str = "en") -> tuple:
    """A snapshot as the Train tab's outputs, texts in `lang`: status, progress bar, three plots, result,
    button, new key, then the drawing's probabilities and readings, the weight grid, confusion matrix,
    misread gallery, details."""
    done = snap.done
    result, new_key = "", None
    if done is not None:
        if done.checkpoint is not None:
            new_key = run_key(done.checkpoint)
            early = text(lang, "result.early") if done.stopped else ""
            result = text(lang, "result.saved", acc=done.test_acc, early=early, key=new_key)
        else:
            result = text(lang, "result.none", detail=done.message)
    progress = f'<progress value="{snap.fraction:.4f}" max="1"></progress>'
    valid, lrs, *pictures = views(snap, lang)
    return (snap.status(lang), progress, frame(snap.steps, epoch=float, loss=float), valid, lrs, result,
            gr.Button(visible=new_key is not None), new_key, *pictures)


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


def train_model(epochs: int, batch_size: int, lr: float, lr_factor: float, lr_patience: int, augment: bool,
                seed: int, use_feedback: bool = False, sketch: dict | None = None, request: gr.Request = None):
    """Train one model and stream its progress; one run at a time per server. `use_feedback` adds the
    drawings visitors corrected in the Draw tab to the training digits; `sketch`, the Draw tab's drawing
    (optional), is read by the network after every epoch."""
    lang = lang_of(request)
    if not training_allowed():
        raise gr.Error(text(lang, "err.training_off"))
    try:
        config = replace(TRAIN_TAB, epochs=whole(epochs), batch_size=whole(batch_size), lr=lr, lr_factor=lr_factor,
                         lr_patience=whole(lr_patience), augment=augment, seed=whole(seed)).validate()
    except (TypeError, ValueError) as e:
        raise gr.Error(error_text(lang, e)) from None
    probe = read_sketch(sketch, lang)
    try:
        for snap in run_training(slot, config, owner=request.session_hash,
                                 feedback=feedback_dir() if use_feedback else None, probe=probe):
            yield train_outputs(snap, lang)
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
