"""What the network computes for one drawing, in forms people can look at:

    layers      every layer's weighted sums and values for the drawing (the model's activation for
                hidden layers, softmax probabilities for the output), whatever shape the checkpoint has
    saliency    gradient x input: how much each pixel's ink pushed a class's log-probability up
                (> 0, for the class) or down (< 0, against it)
    unit        one unit's arithmetic: its inputs times its weights, summed, plus its bias, activation
    neighbours  the training digits nearest to the drawing in the last hidden layer (neighbours.py)

Pure functions of a model and a 28x28 picture; nothing is kept between calls except the training
digits' embeddings, which neighbours.TrainingDigits builds once per model."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from .neighbours import Neighbour, TrainingDigits, embed

if TYPE_CHECKING:
    from .inference import DigitRecognizer, Prediction


@dataclass(frozen=True)
class Layer:
    weighted_sum: np.ndarray    # float32 (units,): weights . previous layer + bias
    value: np.ndarray           # float32 (units,): the activation of it; for the output layer the probabilities


@dataclass(frozen=True)
class Explanation:
    prediction: "Prediction"
    layers: tuple[Layer, ...]               # the hidden layers in order, then the output layer
    saliency: dict[int, np.ndarray]         # class -> float32 (28, 28); empty when nothing is drawn
    neighbours: tuple[Neighbour, ...] | None  # nearest first; None: no training digits to compare with

    @property
    def ranked(self) -> list[int]:
        """Classes from the most to the least probable."""
        return [int(c) for c in np.argsort(-self.prediction.probabilities, kind="stable")]

    def to_dict(self, digits: int = 5) -> dict:
        """Plain JSON-ready data, numbers rounded to `digits` decimals: label (None when nothing is drawn),
        probabilities, image28, layers [{weighted_sum, value}], saliency {"class": 28x28}, neighbours
        [{index, label, distance, image}] or None."""
        def plain(a: np.ndarray) -> list:
            return np.round(a.astype(np.float64), digits).tolist()

        p = self.prediction
        return {"label": p.label, "probabilities": plain(p.probabilities), "image28": p.image28.tolist(),
                "layers": [{"weighted_sum": plain(layer.weighted_sum), "value": plain(layer.value)}
                           for layer in self.layers],
                "saliency": {str(c): plain(m) for c, m in self.saliency.items()},
                "neighbours": None if self.neighbours is None else [
                    {"index": n.index, "label": n.label, "distance": round(n.distance, digits),
                     "image": n.image28.tolist()} for n in self.neighbours]}


@dataclass(frozen=True)
class Unit:
    """One unit's arithmetic: weighted_sum = inputs . weights + bias, value = activation(weighted_sum)
    (the model's, e.g. ReLU; softmax over the ten for an output unit).

    For a first-layer unit the inputs are the 784 pixels' ink (0 blank to 1 full). The network sees
    (ink - mean) / std, so its weights per unit of ink are weights / std, and what blank paper adds
    (-mean / std times every weight) is a constant, counted here in the bias: the sum is the model's
    own, and only inked pixels contribute to it."""
    layer: int                  # 0 = first hidden layer; len(hidden) = the output layer
    index: int
    inputs: np.ndarray          # float32 (n_in,)
    weights: np.ndarray         # float32 (n_in,)
    bias: float
    weighted_sum: float
    value: float                # activation(weighted_sum), or the softmax probability for an output unit

    @property
    def contributions(self) -> np.ndarray:
        """inputs * weights, float32 (n_in,): what each input adds to the weighted sum."""
        return self.inputs * self.weights

    def strongest(self, k: int) -> list[int]:
        """The k inputs whose contributions are largest in size, largest first."""
        return [int(i) for i in np.argsort(-np.abs(self.contributions), kind="stable")[:k]]


def ink(image28: np.ndarray) -> torch.Tensor:
    """float32 (1, 784), 0-1: a uint8 28x28 picture, white digit on black, as ink per pixel."""
    return torch.from_numpy(np.asarray(image28, np.float32).reshape(1, -1) / 255)


def forward_layers(rec: "DigitRecognizer", x_ink: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weighted sums, values) of every layer for (N, 784) ink, the output layer's values softmaxed."""
    x, out = (x_ink - rec.mean) / rec.std, []
    for i, linear in enumerate(rec.model.layers):
        z = linear(x)
        x = rec.model.activation(z) if i < len(rec.model.layers) - 1 else torch.softmax(z, dim=1)
        out.append((z, x))
    return out


def saliency(rec: "DigitRecognizer", image28: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """float32 (len(classes), 28, 28): gradient x input of each class's log-probability, in ink.

    Removing a pixel's ink (setting it to 0, MNIST's background) changes the log-probability by
    about minus its value here, so the map ranks pixels by what the answer owes them. Gradients are
    taken with autograd.grad for the input only: the shared model's parameters get no .grad, so
    threads may explain at once."""
    x = ink(image28).repeat(len(classes), 1).requires_grad_()            # (C, 784)
    with torch.enable_grad():
        log_p = torch.log_softmax(rec.model((x - rec.mean) / rec.std), dim=1)
        picked = log_p[torch.arange(len(classes)), torch.as_tensor(list(classes))].sum()
        grad, = torch.autograd.grad(picked, x)
    return (grad * x).detach().numpy().reshape(len(classes), 28, 28)


def explain(rec: "DigitRecognizer", prediction: "Prediction", versus: Sequence[int] = (),
            digits: TrainingDigits | None = None) -> Explanation:
    """Layers, saliency for the answer and for each class in `versus`, and the K nearest of `digits`
    (neighbours None without them) for a prediction `rec` made: the picture is not read again."""
    x = ink(prediction.image28)
    with torch.inference_mode():
        layers = tuple(Layer(z[0].numpy(), a[0].numpy()) for z, a in forward_layers(rec, x))
    if prediction.label is None:
        return Explanation(prediction, layers, {}, None if digits is None else ())
    classes = list(dict.fromkeys([prediction.label, *(int(c) for c in versus)]))
    maps = saliency(rec, prediction.image28, classes)
    if digits is None:
        return Explanation(prediction, layers, dict(zip(classes, maps)), None)
    with torch.inference_mode():
        neighbours = digits.nearest(rec, embed(rec, x)[0])
    return Explanation(prediction, layers, dict(zip(classes, maps)), neighbours)


def unit(rec: "DigitRecognizer", explanation: Explanation, layer: int, index: int) -> Unit:
    """The arithmetic of unit `index` of `layer` for the explained drawing. Raises IndexError."""
    linear = rec.model.layers[layer]                     # negative or too large: IndexError
    if not 0 <= index < linear.out_features or layer < 0:
        raise IndexError(f"layer {layer} has no unit {index}")
    w = linear.weight[index].detach().numpy().copy()
    b = linear.bias[index].item()
    if layer == 0:
        inputs = ink(explanation.prediction.image28)[0].numpy()
        w, b = w / rec.std, b - rec.mean / rec.std * float(w.astype(np.float64).sum())
    else:
        inputs = explanation.layers[layer - 1].value
    z, a = explanation.layers[layer].weighted_sum[index], explanation.layers[layer].value[index]
    return Unit(layer, index, inputs, w, b, float(z), float(a))
