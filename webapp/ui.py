"""The Blocks: both tabs' layout and the wiring of their events to the handlers in webapp.draw and
webapp.train_tab. `build()` makes the app; `launch()` serves it as `python app.py` does."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import gradio as gr
import torch

from train import TrainConfig

from .api import CANVAS, TRAIN_TAB
from .draw import BRUSH, CELL, blank_sketch, choose_model, digit_html, picker_choices, picker_update, predict
from .limits import CACHE_CLEANUP, MAX_UPLOAD, PREDICT_CONCURRENCY, TORCH_THREADS, training_allowed
from .runs import DEFAULT_KEY
from .sketchpad import Sketchpad
from .train_tab import TEXT, slot, stop_training, train_model, use_model

LIMITS = TrainConfig.LIMITS
DEFAULTS = TRAIN_TAB

CSS = """
.digit { font-size: 7rem; font-weight: 700; line-height: 1; text-align: center; }
.digit.empty { font-size: 2rem; font-weight: 400; opacity: 0.6; padding: 2.5rem 0; }
.confidence { text-align: center; opacity: 0.7; }
#seen img, #weights img, #misread img { image-rendering: pixelated; }
progress { width: 100%; height: 0.8rem; accent-color: var(--color-accent); }
"""


@dataclass
class App:
    """The built app, and what /predict reads and writes (a bench adds a twin endpoint with them)."""
    blocks: gr.Blocks
    predict_inputs: list
    predict_outputs: list


def build() -> App:
    on_space = bool(os.environ.get("SPACE_ID"))   # Hugging Face sets SPACE_ID in every Space's environment
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
                                                 choices=picker_choices(), value=DEFAULT_KEY)
                    with gr.Column(scale=2):
                        digit = gr.HTML(digit_html(None), label="Prediction")
                        hint = gr.Markdown("Draw one digit, 0 to 9; the prediction updates after each stroke.",
                                           label="Hint")
                        probabilities = gr.Label(num_top_classes=10, label="Probability of each digit",
                                                 show_heading=False)
                        seen = gr.Image(label="What the model saw: 28 x 28 pixels, white on black", type="numpy",
                                        format="png", interactive=False, buttons=[], elem_id="seen",
                                        height=28 * CELL + 48)
            with gr.Tab("Train", id="train"):
                if not training_allowed():
                    gr.Markdown("**Training is switched off on this server.** Drawing and predicting still work.")
                gr.Markdown("Train a new network on MNIST with your settings. Runs are saved beside the shipped "
                            "model, which is never overwritten. One run trains at a time on this server.")
                if on_space:
                    gr.Markdown("**On this Space only the shipped model persists:** runs trained here are kept on "
                                "the Space's disk and vanish when it restarts.")
                with gr.Row():
                    epochs = gr.Slider(*LIMITS["epochs"], value=DEFAULTS.epochs, step=1,
                                       label="Epochs (passes over the 55,000 training digits)")
                    batch_size = gr.Number(DEFAULTS.batch_size, precision=0, minimum=LIMITS["batch_size"][0],
                                           maximum=LIMITS["batch_size"][1], label="Batch size (digits per step)")
                    lr = gr.Number(DEFAULTS.lr, minimum=LIMITS["lr"][0], maximum=LIMITS["lr"][1],
                                   label="Learning rate (Adam, initial)")
                    seed = gr.Number(DEFAULTS.seed, precision=0, minimum=LIMITS["seed"][0],
                                     maximum=LIMITS["seed"][1], label="Seed (same seed, same result)")
                with gr.Row():
                    lr_factor = gr.Slider(*LIMITS["lr_factor"], value=DEFAULTS.lr_factor, step=0.01,
                                          label="LR factor (applied when valid loss stalls)")
                    lr_patience = gr.Slider(*LIMITS["lr_patience"], value=DEFAULTS.lr_patience, step=1,
                                            label="LR patience (epochs without improvement)")
                    augment = gr.Checkbox(DEFAULTS.augment,
                                          label="Augment (random rotation, slant, size, stroke width)")
                with gr.Row():
                    train_btn = gr.Button("Train", variant="primary", interactive=training_allowed())
                    stop_btn = gr.Button("Stop", variant="stop")
                status = gr.Markdown("No run yet.", label="Status")
                progress = gr.HTML('<progress value="0" max="1"></progress>', label="Progress")
                with gr.Row():
                    train_plot = gr.LinePlot(x="epoch", y="loss", label="Train loss",
                                             title="Train loss (batches, averaged in groups)", height=260)
                    epoch_plot = gr.ScatterPlot(x="epoch", y="valid_loss", label="Valid loss",
                                                title="Valid loss per epoch", height=260)
                    lr_plot = gr.LinePlot(x="epoch", y="lr", label="Learning rate", title="Learning rate per epoch",
                                          height=260)
                with gr.Row():
                    with gr.Column(scale=2):
                        probe_plot = gr.BarPlot(x="digit", y="probability", y_lim=[0, 1], height=220,
                                                label="Your drawing", title="Your drawing, as the network reads it")
                        probe_line = gr.Markdown(TEXT["no_probe"], label="Readings per epoch")
                    with gr.Column(scale=3):
                        weights = gr.Image(label="What the first layer learned: its 200 units' weights "
                                                 "(red: ink here excites the unit, blue: inhibits)",
                                           type="pil", format="png", interactive=False, buttons=[],
                                           elem_id="weights", height=330)
                result = gr.Markdown(label="Result")
                use_btn = gr.Button("Use this model in Draw", visible=False)
                with gr.Row():
                    confusion = gr.Plot(label="Confusion matrix on MNIST's 10,000 test digits", elem_id="confusion")
                    misread = gr.Gallery(label=TEXT["misread_waiting"], columns=8, height=330,
                                         object_fit="contain", elem_id="misread", interactive=False, buttons=[])
                details = gr.JSON(visible=False, label="Run details (for API callers)")

        shown = [probabilities, digit, seen, hint]
        predicting = dict(show_progress="hidden", concurrency_limit=PREDICT_CONCURRENCY, concurrency_id="predict")
        gr.on([sketch.change, predict_btn.click], predict, [sketch, model_key], shown,
              api_name="predict", trigger_mode="always_last", **predicting)
        picker.change(choose_model, [picker, model_key], [model_key, picker], api_visibility="private").then(
            predict, [sketch, model_key], shown, api_visibility="private", **predicting)
        draw_tab.select(picker_update, model_key, picker, api_visibility="private")
        train_btn.click(train_model, [epochs, batch_size, lr, lr_factor, lr_patience, augment, seed, sketch],
                        [status, progress, train_plot, epoch_plot, lr_plot, result, use_btn, new_model_key,
                         probe_plot, probe_line, weights, confusion, misread, details],
                        api_name="train", concurrency_limit=4, show_progress="minimal")
        stop_btn.click(stop_training, None, status, api_name="stop", concurrency_limit=None)
        use_btn.click(use_model, new_model_key, [model_key, picker, tabs], api_visibility="private").then(
            predict, [sketch, model_key], shown, api_visibility="private", **predicting)
    return App(demo, [sketch, model_key], shown)


def launch(app: App, share: bool = False) -> None:
    """Serve `app` with this server's limits (webapp.limits)."""
    torch.set_num_threads(TORCH_THREADS)
    app.blocks.launch(share=share, css=CSS, max_file_size=MAX_UPLOAD, prevent_thread_lock=True)
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
