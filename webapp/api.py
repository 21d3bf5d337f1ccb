"""Facts about the app's HTTP API that the app, its tests and the benches share."""
from __future__ import annotations

CANVAS = 448     # sketchpad side in pixels: 16 screen pixels per model pixel
# /train's inputs, in order (TrainConfig field names): what gradio_client callers pass positionally.
TRAIN_INPUTS = ("epochs", "batch_size", "lr", "lr_factor", "lr_patience", "augment", "seed")


def train_args(config: dict, feedback: bool = False) -> list:
    """A mapping of TrainConfig fields as /train's positional arguments; the last one says whether to
    add the drawings visitors corrected (the Train tab's checkbox)."""
    return [config[name] for name in TRAIN_INPUTS] + [feedback]
