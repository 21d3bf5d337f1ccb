"""The Train tab's handlers: hyperparameters in, a stream of the run's status, progress, plots and
result out (also what /train streams to API callers); Stop; handing the new model to Draw."""
from __future__ import annotations

import gradio as gr
import pandas as pd

from train import DataError, TrainConfig
from train.feedback import FeedbackError, read_feedback

from .draw import picker_update
from .feedback import feedback_dir
from .i18n import error_text, lang_of, text
from .limits import OverServerLimit, training_allowed
from .runs import run_key
from .session import RunInProgress, Snapshot, TrainingSlot, busy_text, run_training
from .worker import TrainingDied

slot = TrainingSlot()


def whole(value: float | int) -> float | int:
    """Sliders send 3.0 for 3; keep anything else as it came so that validation names it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def frame(rows: list[dict], **dtypes: type) -> pd.DataFrame:
    """Typed even when empty: a plot given an untyped empty frame draws its axes as categories for good.
    (No colour column either: Gradio 6 fixes a plot's colour domain at its first, empty, value.)"""
    return pd.DataFrame(rows, columns=list(dtypes)).astype(dtypes)


def train_outputs(snap: Snapshot, lang: str = "en") -> tuple:
    """A snapshot as the Train tab's outputs, texts in `lang`: status, progress bar, three plots, result,
    button, new key."""
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
    # The learning rate each epoch trained with: the initial one, then the scheduler's after each epoch.
    lrs = [{"epoch": 0.0, "lr": snap.config.lr}] + [{"epoch": r["epoch"], "lr": r["lr"]} for r in snap.epochs]
    return (snap.status(lang), progress, frame(snap.steps, epoch=float, loss=float),
            frame([{"epoch": r["epoch"], "valid_loss": r["valid_loss"]} for r in snap.epochs],
                  epoch=float, valid_loss=float),
            frame(lrs, epoch=float, lr=float), result, gr.Button(visible=new_key is not None), new_key)


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


def train_model(epochs: int, batch_size: int, lr: float, lr_factor: float, lr_patience: int, augment: bool,
                seed: int, use_feedback: bool, request: gr.Request):
    """Train one model and stream its progress; one run at a time per server. `use_feedback` adds the
    drawings visitors corrected in the Draw tab to the training digits."""
    lang = lang_of(request)
    if not training_allowed():
        raise gr.Error(text(lang, "err.training_off"))
    try:
        config = TrainConfig(epochs=whole(epochs), batch_size=whole(batch_size), lr=lr, lr_factor=lr_factor,
                             lr_patience=whole(lr_patience), augment=augment, seed=whole(seed)).validate()
    except (TypeError, ValueError) as e:
        raise gr.Error(error_text(lang, e)) from None
    try:
        for snap in run_training(slot, config, owner=request.session_hash,
                                 feedback=feedback_dir() if use_feedback else None):
            yield train_outputs(snap, lang)
    except RunInProgress as e:
        raise gr.Error(busy_text(lang, e.running)) from None
    except (TrainingDied, OverServerLimit, DataError, FeedbackError) as e:
        raise gr.Error(error_text(lang, e)) from None


def stop_training(request: gr.Request) -> str:
    """Stop the caller's own run; its best weights so far are tested and saved. Returns a status line."""
    stopped = slot.request_stop(request.session_hash)
    return text(lang_of(request), "stop.sent" if stopped else "stop.none")


def use_model(model_key: str, request: gr.Request) -> tuple[str, gr.Dropdown, gr.Tabs]:
    """Pick the run just trained and show the Draw tab."""
    return model_key, picker_update(model_key, request), gr.Tabs(selected="draw")
