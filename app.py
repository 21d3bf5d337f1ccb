"""Draw a digit and watch the MLP read it; press Train and watch a new one learn.

    python app.py            # http://127.0.0.1:7860 (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT honoured)
    python app.py --share    # plus a public gradio.live link

Environment: RUNS_DIR (where runs trained here are saved, default runs/), ALLOW_TRAINING=0 (a
read-only server that only predicts), MNIST_ROOT (where MNIST is read from on the first Train),
PREDICT_CONCURRENCY (predictions served at once, default 4), TORCH_THREADS (torch intra-op threads
for the server and for its training process, default 1).

API (gradio_client): /predict takes the sketchpad value and returns the probabilities first;
/train takes the hyperparameters and streams the run; /stop stops the caller's own run."""
from __future__ import annotations

import argparse
import os

import gradio as gr
import numpy as np
import torch

from app_models import DEFAULT_KEY, Recognizers, list_models, run_key
from app_sketch import Sketchpad
from app_train import RunInProgress, Snapshot, TrainingSlot, run_training, training_allowed
from app_worker import TrainingDied
from mnist_model import CheckpointError, ImageError
from train import TrainConfig

CANVAS = 448            # sketchpad side in pixels: 16 screen pixels per model pixel
BRUSH = 16              # brush radius in canvas pixels: about MNIST's stroke width once scaled to 28 x 28
CELL = 12               # screen pixels per model pixel in the "what the model saw" view
UNSURE_BELOW = 0.6      # top probability under which the app says it is not sure
PREDICT_CONCURRENCY = int(os.environ.get("PREDICT_CONCURRENCY", "4"))
# One intra-op thread, not torch's default of one per core: a 1-digit forward pass gains nothing from
# more, and on a 2-core machine busy serving, every multi-threaded op waits for a preempted thread
# (measured on 2 shared cores: predict 35 ms -> 3 ms, a training epoch 33-146 s -> 5 s).
TORCH_THREADS = int(os.environ.get("TORCH_THREADS", "1"))
MAX_UPLOAD = "10mb"     # largest file a visitor may upload: the pad sends ~20 kB, a phone photo a few MB
CACHE_CLEANUP = (3600, 3600)   # every hour, delete uploads older than an hour: visitors cannot fill the disk
LIMITS = TrainConfig.LIMITS
ON_SPACE = bool(os.environ.get("SPACE_ID"))   # Hugging Face sets SPACE_ID in every Space's environment
DEFAULTS = TrainConfig()

torch.set_num_threads(TORCH_THREADS)
recognizers = Recognizers()
slot = TrainingSlot()


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


def picker_update(model_key: str) -> gr.Dropdown:
    """The picker with the models on disk now, keeping the current choice when it still exists."""
    entries = list_models()
    keys = [e.key for e in entries]
    return gr.Dropdown(choices=[(e.label, e.key) for e in entries],
                       value=model_key if model_key in keys else DEFAULT_KEY)


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


def whole(value: float | int) -> float | int:
    """Sliders send 3.0 for 3; keep anything else as it came so that validation names it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def train_outputs(snap: Snapshot) -> tuple:
    """A snapshot as the Train tab's outputs: status, progress bar, three plots, result, button, new key."""
    done = snap.done
    result, new_key = "", None
    if done is not None:
        if done.checkpoint is not None:
            new_key = run_key(done.checkpoint)
            early = "Stopped early; the best weights so far were kept.  \n" if done.stopped else ""
            result = (f"### Test accuracy {done.test_acc:.2%}\n{early}"
                      f"Saved as `{new_key}`: pick it in the Draw tab, or press the button below.")
        else:
            result = f"### No model saved\n{done.message}."
    progress = f'<progress value="{snap.fraction:.4f}" max="1"></progress>'
    return (snap.status(), progress, snap.train_loss_frame(), snap.valid_loss_frame(), snap.lr_frame(),
            result, gr.Button(visible=new_key is not None), new_key)


def train_model(epochs: int, batch_size: int, lr: float, lr_factor: float, lr_patience: int, augment: bool,
                seed: int, request: gr.Request):
    """Train one model and stream its progress; one run at a time per server."""
    if not training_allowed():
        raise gr.Error("Training is switched off on this server (ALLOW_TRAINING=0); drawing still works.")
    try:
        config = TrainConfig(epochs=whole(epochs), batch_size=whole(batch_size), lr=lr, lr_factor=lr_factor,
                             lr_patience=whole(lr_patience), augment=augment, seed=whole(seed)).validate()
    except (TypeError, ValueError) as e:
        raise gr.Error(str(e)) from None
    try:
        for snap in run_training(slot, config, owner=request.session_hash):
            yield train_outputs(snap)
    except (RunInProgress, TrainingDied, ValueError) as e:   # ValueError: over this server's limits (ServerLimits)
        raise gr.Error(str(e)) from None


def stop_training(request: gr.Request) -> str:
    """Stop the caller's own run; its best weights so far are tested and saved. Returns a status line."""
    if slot.request_stop(request.session_hash):
        return "Stopping: testing and saving the best weights so far."
    return "You have no training run in progress to stop."


def use_model(model_key: str) -> tuple[str, gr.Dropdown, gr.Tabs]:
    """Pick the run just trained and show the Draw tab."""
    return model_key, picker_update(model_key), gr.Tabs(selected="draw")


CSS = """
.digit { font-size: 7rem; font-weight: 700; line-height: 1; text-align: center; }
.digit.empty { font-size: 2rem; font-weight: 400; opacity: 0.6; padding: 2.5rem 0; }
.confidence { text-align: center; opacity: 0.7; }
#seen img { image-rendering: pixelated; }
progress { width: 100%; height: 0.8rem; accent-color: var(--color-accent); }
"""

with gr.Blocks(title="Handwritten digits", delete_cache=CACHE_CLEANUP) as demo:
    gr.Markdown("# Handwritten digit recognizer\nDraw a digit and a small neural network (an MLP trained on "
                "MNIST and real pen-drawn digits) reads it as you draw. In the Train tab, train your own and "
                "watch it learn.")
    model_key = gr.State(DEFAULT_KEY)
    new_model_key = gr.State(None)
    with gr.Tabs() as tabs:
        with gr.Tab("Draw", id="draw") as draw_tab:
            with gr.Row():
                with gr.Column(scale=3):
                    sketch = Sketchpad(value=blank_sketch(), canvas_size=(CANVAS, CANVAS), height=CANVAS + 120,
                                       brush=gr.Brush(default_size=BRUSH, colors=["#000000"], color_mode="fixed"),
                                       eraser=gr.Eraser(default_size=BRUSH * 2), layers=False, transforms=(),
                                       label="Draw one digit here", buttons=[], format="png")
                    with gr.Row():
                        predict_btn = gr.Button("Predict", variant="primary", scale=1)
                        picker = gr.Dropdown(scale=3, label="Model (test accuracy on MNIST's 10,000 test digits)",
                                             choices=[(e.label, e.key) for e in list_models()], value=DEFAULT_KEY)
                with gr.Column(scale=2):
                    digit = gr.HTML(digit_html(None), label="Prediction")
                    hint = gr.Markdown("Draw one digit, 0 to 9; the prediction updates after each stroke.",
                                       label="Hint")
                    probabilities = gr.Label(num_top_classes=10, label="Probability of each digit", show_heading=False)
                    seen = gr.Image(label="What the model saw: 28 x 28 pixels, white on black", type="numpy",
                                    format="png", interactive=False, buttons=[], elem_id="seen", height=28 * CELL + 48)
        with gr.Tab("Train", id="train"):
            if not training_allowed():
                gr.Markdown("**Training is switched off on this server.** Drawing and predicting still work.")
            gr.Markdown("Train a new network on MNIST with your settings. Runs are saved beside the shipped model, "
                        "which is never overwritten. One run trains at a time on this server.")
            if ON_SPACE:
                gr.Markdown("**On this Space only the shipped model persists:** runs trained here are kept on the "
                            "Space's disk and vanish when it restarts.")
            with gr.Row():
                epochs = gr.Slider(*LIMITS["epochs"], value=DEFAULTS.epochs, step=1,
                                   label="Epochs (passes over the 55,000 training digits)")
                batch_size = gr.Number(DEFAULTS.batch_size, precision=0, minimum=LIMITS["batch_size"][0],
                                       maximum=LIMITS["batch_size"][1], label="Batch size (digits per step)")
                lr = gr.Number(DEFAULTS.lr, minimum=LIMITS["lr"][0], maximum=LIMITS["lr"][1],
                               label="Learning rate (Adam, initial)")
                seed = gr.Number(DEFAULTS.seed, precision=0, minimum=LIMITS["seed"][0], maximum=LIMITS["seed"][1],
                                 label="Seed (same seed, same result)")
            with gr.Row():
                lr_factor = gr.Slider(*LIMITS["lr_factor"], value=DEFAULTS.lr_factor, step=0.01,
                                      label="LR factor (applied when valid loss stalls)")
                lr_patience = gr.Slider(*LIMITS["lr_patience"], value=DEFAULTS.lr_patience, step=1,
                                        label="LR patience (epochs without improvement)")
                augment = gr.Checkbox(DEFAULTS.augment, label="Augment (random rotation, slant, size, stroke width)")
            with gr.Row():
                train_btn = gr.Button("Train", variant="primary", interactive=training_allowed())
                stop_btn = gr.Button("Stop", variant="stop")
            status = gr.Markdown("No run yet.", label="Status")
            progress = gr.HTML('<progress value="0" max="1"></progress>', label="Progress")
            with gr.Row():
                train_plot = gr.LinePlot(x="epoch", y="loss", label="Train loss",
                                         title="Train loss (batches, averaged in groups)", height=260)
                epoch_plot = gr.ScatterPlot(x="epoch", y="valid_loss", label="Valid loss", title="Valid loss per epoch",
                                            height=260)
                lr_plot = gr.LinePlot(x="epoch", y="lr", label="Learning rate", title="Learning rate per epoch",
                                      height=260)
            result = gr.Markdown(label="Result")
            use_btn = gr.Button("Use this model in Draw", visible=False)

    gr.on([sketch.change, predict_btn.click], predict, [sketch, model_key], [probabilities, digit, seen, hint],
          api_name="predict", trigger_mode="always_last", show_progress="hidden",
          concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="predict")
    picker.change(choose_model, [picker, model_key], [model_key, picker], api_visibility="private").then(
        predict, [sketch, model_key], [probabilities, digit, seen, hint], api_visibility="private",
        show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="predict")
    draw_tab.select(picker_update, model_key, picker, api_visibility="private")
    train_btn.click(train_model, [epochs, batch_size, lr, lr_factor, lr_patience, augment, seed],
                    [status, progress, train_plot, epoch_plot, lr_plot, result, use_btn, new_model_key],
                    api_name="train", concurrency_limit=4, show_progress="minimal")
    stop_btn.click(stop_training, None, status, api_name="stop", concurrency_limit=None)
    use_btn.click(use_model, new_model_key, [model_key, picker, tabs], api_visibility="private").then(
        predict, [sketch, model_key], [probabilities, digit, seen, hint], api_visibility="private",
        show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="predict")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the digit recognizer app.")
    parser.add_argument("--share", action="store_true", help="also serve a public gradio.live link (default: off)")
    demo.launch(share=parser.parse_args().share, css=CSS, max_file_size=MAX_UPLOAD)
