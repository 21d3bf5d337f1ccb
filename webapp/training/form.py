"""Facts about the app's HTTP API that the app, its tests and the benches share."""
from __future__ import annotations

from train import TrainConfig

# /train's inputs, in order (TrainConfig field names; then whether to add the corrected drawings and the
# Draw tab's sketch, both optional: see train_args): what gradio_client callers pass positionally.
TRAIN_INPUTS = ("epochs", "batch_size", "lr", "lr_factor", "lr_patience", "augment", "seed")
# What each /train update holds for gradio_client callers, in order (webapp.training.tab.train_outputs).
TRAIN_OUTPUTS = ("status", "progress", "train_loss", "valid_loss", "lr", "result", "probe", "readings", "weights",
                 "confusion", "misread", "details")
# The Train tab's defaults, chosen for the time to a good model (docs/results.md: Train tab latency);
# the CLI keeps TrainConfig's own, the recipe of the shipped model. The fields the tab does not show
# (augment_share, styles, valid_size, device) come from here for every run the app trains.
TRAIN_TAB = TrainConfig(epochs=10, batch_size=512, lr=3e-3, lr_patience=0, augment_share=0.5)


def train_args(config: dict, feedback: bool = False, sketch: dict | None = None) -> list:
    """A mapping of TrainConfig fields as /train's positional arguments, then whether to add the drawings
    visitors corrected (the Train tab's checkbox) and the sketch whose reading to follow (None: none)."""
    return [config[name] for name in TRAIN_INPUTS] + [feedback, sketch]
