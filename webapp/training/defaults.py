"""The Train tab's defaults, apart from its controls (webapp.training.form) so that the training process,
which imports no gradio, can get ready for them as the server starts."""
from __future__ import annotations

from train import TrainConfig

# Chosen for the time to a good model (docs/results.md: Train tab latency); the CLI keeps TrainConfig's
# own, the recipe of the shipped model. The fields the tab does not show (augment_share, styles,
# valid_size, device) come from here for every run the app trains.
TRAIN_TAB = TrainConfig(epochs=10, batch_size=512, lr=3e-3, lr_patience=0, augment_share=0.5)
