"""The network: a plain MLP, by default the documented 784 -> 200 -> 150 -> 100 -> 80 -> 10 with ReLU."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

# The hidden layers' nonlinearity, by the name a config and a checkpoint store.
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


@dataclass(frozen=True)
class ModelConfig:
    in_features: int = 784                          # 28 x 28 pixels, flattened row by row
    hidden: tuple[int, ...] = (200, 150, 100, 80)   # widths of the hidden layers
    n_classes: int = 10                             # digits 0-9
    activation: str = "relu"                        # a key of ACTIVATIONS

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")

    def widths(self) -> tuple[int, ...]:
        return (self.in_features, *self.hidden, self.n_classes)

    def parameters(self) -> int:
        """Weights and biases of the network this config builds."""
        w = self.widths()
        return sum(a * b + b for a, b in zip(w[:-1], w[1:]))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        """Also reads checkpoints saved before the activation was stored: theirs was ReLU."""
        return cls(in_features=int(d["in_features"]), hidden=tuple(int(h) for h in d["hidden"]),
                   n_classes=int(d["n_classes"]), activation=str(d.get("activation", "relu")))


class MLP(nn.Module):
    """Fully connected classifier; takes normalised, flattened images (N, 784), returns logits (N, 10)."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        self.activation = ACTIVATIONS[config.activation]
        widths = config.widths()
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=True) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)          # (N, 28, 28) or (N, 1, 28, 28) -> (N, 784)
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)              # logits: CrossEntropyLoss applies the softmax
