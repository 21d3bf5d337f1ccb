"""Recognise a digit in a picture with a saved model.

    rec = DigitRecognizer.load()          # the shipped checkpoint; or .load(path)
    p = rec.predict(sketchpad_value)      # Prediction(label, probabilities, image28)
    e = rec.explain(sketchpad_value, versus=[1], digits=TrainingDigits(images, labels))

Thread safety: the model is only read (eval mode, under torch.inference_mode), and preprocessing
keeps no state, so one recognizer serves any number of threads without a lock."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .checkpoint import DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint
from .explain import Explanation, explain
from .model import MLP
from .neighbours import TrainingDigits
from .preprocess import SIDE, to_mnist


@dataclass(frozen=True)
class Prediction:
    label: int | None           # 0-9, or None when nothing is drawn
    probabilities: np.ndarray   # float32 (10,), summing to 1; all zero when nothing is drawn
    image28: np.ndarray         # uint8 (28, 28): what the model saw, white digit on black


class DigitRecognizer:
    """A trained MLP with the normalisation it was trained with, and MNIST-style preprocessing."""

    def __init__(self, model: MLP, mean: float, std: float, info: dict | None = None):
        self.model = model.eval()
        self.mean, self.std = float(mean), float(std)
        self.info = info or {}

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "DigitRecognizer":
        """From a checkpoint file (the shipped default when `path` is None). Raises CheckpointError."""
        model, info = load_checkpoint(path)
        if (model.config.in_features, model.config.n_classes) != (SIDE * SIDE, 10):
            # A consistent checkpoint of another MLP shape loads, but could not read a 28 x 28 digit.
            raise CheckpointError(f"{Path(path or DEFAULT_CHECKPOINT).name}: a model of {model.config.in_features} "
                                  f"inputs and {model.config.n_classes} classes cannot read 28 x 28 digits")
        return cls(model, info["mean"], info["std"], info)

    def predict(self, image) -> Prediction:
        """Any input `to_mnist` accepts. Raises ImageError when it cannot be an image."""
        return self.predict_batch([image])[0]

    def explain(self, image, versus: Sequence[int] = (), digits: TrainingDigits | None = None) -> Explanation:
        """Every layer's values for `image`, the saliency of the answer and of each class in `versus`, and
        the nearest of `digits` (see mnist_model.explain). Raises ImageError when it cannot be an image."""
        return explain(self, self.predict(image), versus, digits)

    def predict_batch(self, images: Sequence) -> list[Prediction]:
        """One Prediction per input, in order, from a single forward pass over the drawn ones."""
        pictures = [to_mnist(image) for image in images]
        is_drawn = [p.any() for p in pictures]
        drawn = [i for i, d in enumerate(is_drawn) if d]
        probs = np.zeros((len(pictures), 10), np.float32)
        if drawn:
            probs[drawn] = self.probabilities(np.stack([pictures[i] for i in drawn]))
        return [Prediction(int(p.argmax()) if d else None, p, picture)
                for p, d, picture in zip(probs, is_drawn, pictures)]

    def probabilities(self, pictures: np.ndarray) -> np.ndarray:
        """float32 (N, 10) for pictures uint8 (N, 28, 28) as `to_mnist` makes them: the forward pass alone,
        for a picture already preprocessed (another model's Prediction.image28, say)."""
        x = torch.from_numpy(np.asarray(pictures)).float()                          # (N, 28, 28), 0-255
        with torch.inference_mode():
            logits = self.model((x / 255 - self.mean) / self.std)                   # (N, 10)
            return torch.softmax(logits, dim=1).numpy()
