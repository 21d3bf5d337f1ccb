"""The documented network: a plain MLP, 784 -> 200 -> 150 -> 100 -> 80 -> 10."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    in_features: int = 784                          # 28 x 28 pixels, flattened row by row
    hidden: tuple[int, ...] = (200, 150, 100, 80)   # widths of the ReLU layers
    n_classes: int = 10                             # digits 0-9

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        return cls(in_features=int(d["in_features"]), hidden=tuple(int(h) for h in d["hidden"]),
                   n_classes=int(d["n_classes"]))


class MLP(nn.Module):
    """Fully connected classifier; takes normalised, flattened images (N, 784), returns logits (N, 10)."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        widths = (config.in_features, *config.hidden, config.n_classes)
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=True) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)          # (N, 28, 28) or (N, 1, 28, 28) -> (N, 784)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)              # logits: CrossEntropyLoss applies the softmax
