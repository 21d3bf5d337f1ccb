"""The training digits nearest to a drawing in the network's last hidden layer: what the network
thinks the drawing resembles. Exact search by brute force (55,000 x 80 numbers is one
matrix-vector product); each model's embeddings of the training digits are built on its first
search and reused until its weights change."""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .inference import DigitRecognizer

K = 8              # neighbours shown
CANDIDATES = 64    # nearest by the fast float32 formula, re-measured exactly to pick the K
CHUNK = 4096       # training digits embedded per forward pass
MODELS_KEPT = 4    # models whose embeddings are kept (the shipped model's are ~18 MB)


@dataclass(frozen=True)
class Neighbour:
    index: int              # position in the training digits
    label: int
    distance: float         # Euclidean, in the last hidden layer
    image28: np.ndarray     # uint8 (28, 28), white digit on black


def embed(rec: "DigitRecognizer", x_ink: torch.Tensor) -> torch.Tensor:
    """(N, d): the last hidden layer's values for (N, 784) ink in 0-1 (the input itself without hidden layers)."""
    x = (x_ink - rec.mean) / rec.std
    for linear in rec.model.layers[:-1]:
        x = rec.model.activation(linear(x))
    return x


def stamp(rec: "DigitRecognizer") -> tuple:
    """Changes whenever the model's weights or normalisation do: an in-place update bumps a tensor's
    version counter, and a reload makes new tensors."""
    return rec.mean, rec.std, tuple((p.data_ptr(), p._version) for p in rec.model.parameters())


class TrainingDigits:
    """Training digits (uint8 (N, 28, 28), labels (N,)) to find a drawing's neighbours among, with the
    embeddings of the last MODELS_KEPT models searched. Thread-safe; one embedding build at a time."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        if images.dtype != torch.uint8 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise ValueError("training digits must be uint8 (N, 28, 28) with N labels")
        self.images, self.labels = images, labels
        self.builds = 0                         # embedding builds so far: what "once per model" is checked by
        self._lock = threading.Lock()
        self._kept: OrderedDict[int, tuple[weakref.ref, tuple, torch.Tensor, torch.Tensor]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.images)

    def embeddings(self, rec: "DigitRecognizer") -> tuple[torch.Tensor, torch.Tensor]:
        """(N, d) float32 embeddings of the training digits for `rec`, and their squared norms (N,)."""
        key, now = id(rec.model), stamp(rec)
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or kept[0]() is not rec.model or kept[1] != now:
                with torch.inference_mode():
                    e = torch.cat([embed(rec, self.images[i:i + CHUNK].reshape(-1, 784).float() / 255)
                                   for i in range(0, len(self.images), CHUNK)])
                kept = (weakref.ref(rec.model), now, e, (e * e).sum(1))
                self.builds += 1
                self._kept[key] = kept
                while len(self._kept) > MODELS_KEPT:
                    self._kept.popitem(last=False)
            self._kept.move_to_end(key)
            return kept[2], kept[3]

    def nearest(self, rec: "DigitRecognizer", query: torch.Tensor, k: int = K) -> tuple[Neighbour, ...]:
        """The k training digits whose embeddings are nearest to `query` (d,), nearest first (ties:
        lower index first). |e|^2 - 2 e.q picks the candidates in one product; float32 rounding can
        reorder close ones, so the candidates' distances are measured again exactly, in float64."""
        e, norms = self.embeddings(rec)
        with torch.inference_mode():
            rough = norms - 2 * (e @ query)
            candidates = torch.topk(rough, min(CANDIDATES, len(e)), largest=False).indices
            exact = ((e[candidates].double() - query.double()) ** 2).sum(1)
        order = sorted(range(len(candidates)), key=lambda i: (float(exact[i]), int(candidates[i])))[:k]
        return tuple(Neighbour(int(candidates[i]), int(self.labels[candidates[i]]), float(exact[i]) ** 0.5,
                               self.images[candidates[i]].numpy()) for i in order)
