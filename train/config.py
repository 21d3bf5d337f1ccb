"""Every training hyperparameter in one frozen dataclass; the CLI and the app build their inputs from it."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from mnist_model import ModelConfig
from mnist_model.model import ACTIVATIONS

DEFAULT_MODEL = ModelConfig()
# The named choices of the text hyperparameters, checked like LIMITS.
CHOICES = {"activation": tuple(ACTIVATIONS), "optimizer": ("adam", "sgd"), "device": ("auto", "cpu", "cuda")}
SGD_MOMENTUM = 0.9       # plain SGD needs far more epochs than Adam to reach the same accuracy on MNIST
# What each kind of bad setting is told, in English (the app words them in the visitor's language too).
RULES = {"whole": "{name} must be a whole number, got {value}",
         "finite": "{name} must be a finite number, got {value}",
         "bool": "{name} must be true or false, got {value}",
         "range": "{name} must be between {lo} and {hi}, got {value}",
         "choice": "{name} must be one of {choices}, got {value}",
         "layers": "{name} must be a tuple of whole numbers (units per layer), got {value}",
         "units": "{name} must be whole numbers of units, one per layer, such as 200,150,100,80; got {value}",
         "unknown": "unknown setting {value}; the settings are {choices}"}


class SettingError(ValueError):
    """A bad hyperparameter: its name, the rule it breaks (a key of RULES), the value as sent cut short,
    and the rule's bounds or choices; str() is the English message."""

    def __init__(self, name: str, rule: str, value, lo=None, hi=None, choices: tuple = ()) -> None:
        self.name, self.rule, self.lo, self.hi, self.choices = name, rule, lo, hi, ", ".join(choices)
        self.value = _number(value) if type(value) in (int, float) else _quoted(value)
        super().__init__(RULES[rule].format(**self.words()))

    def words(self) -> dict:
        """The message's fields, formatted: what a translation fills in."""
        return {"name": self.name, "value": self.value, "lo": _shown(self.lo), "hi": _shown(self.hi),
                "choices": self.choices}


def _field(default, help: str):
    """A dataclass field with its help text, which the CLI shows in --help."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _field(20, "full passes over the 55,000 training digits")
    batch_size: int = _field(128, "digits per optimiser step")
    lr: float = _field(2e-3, "the optimiser's initial learning rate")
    lr_factor: float = _field(0.3, "ReduceLROnPlateau multiplies the lr by this when valid loss stalls")
    lr_patience: int = _field(1, "epochs without valid-loss improvement before the lr is reduced")
    augment: bool = _field(True, "random affine and stroke-width changes on every training batch")
    augment_share: float = _field(1.0, "fraction of each batch's digits augmented (when augment is on); the "
                                       "rest train as drawn, which reaches a given valid accuracy sooner")
    styles: float = _field(0.5, "fraction of MNIST's 0s, 1s and 7s also trained with a slash, flag or crossbar")
    hidden: tuple[int, ...] = _field(DEFAULT_MODEL.hidden, "units in each hidden layer, input side first")
    activation: str = _field(DEFAULT_MODEL.activation, "the hidden layers' nonlinearity: " + ", ".join(ACTIVATIONS))
    optimizer: str = _field("adam", f"adam, or sgd (with momentum {SGD_MOMENTUM})")
    seed: int = _field(0, "same seed, same machine: same metrics")
    valid_size: int = _field(5000, "digits held out of the 60,000 for validation and lr scheduling")
    device: str = _field("auto", "auto (CUDA when present, else CPU), cpu or cuda")

    # Server-side bounds: the UI's inputs use them too, so nothing is defined twice. "hidden" bounds the
    # units of each layer; "layers" their number and "parameters" the whole network's weights and biases.
    LIMITS = {"epochs": (1, 100), "batch_size": (1, 8192), "lr": (1e-6, 1.0), "lr_factor": (0.01, 0.99),
              "lr_patience": (0, 50), "augment_share": (0.0, 1.0), "styles": (0.0, 1.0), "hidden": (1, 1024),
              "layers": (1, 6), "parameters": (10, 1_000_000), "valid_size": (100, 20000), "seed": (0, 2**31 - 1)}

    def validate(self) -> "TrainConfig":
        """Return self, or raise ValueError naming the first bad hyperparameter."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int) and not _whole(value):
                raise SettingError(f.name, "whole", value)
            if f.type in ("float", float) and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                               or not math.isfinite(value)):
                raise SettingError(f.name, "finite", value)
            if f.type in ("bool", bool) and not isinstance(value, bool):
                raise SettingError(f.name, "bool", value)
            if f.name == "hidden":
                self._validate_layers(value)
            elif f.name in self.LIMITS:
                _within(f.name, value, *self.LIMITS[f.name])
            if f.name in CHOICES and value not in CHOICES[f.name]:
                raise SettingError(f.name, "choice", value, choices=CHOICES[f.name])
        _within("parameters", self.model_config().parameters(), *self.LIMITS["parameters"])
        return self

    @staticmethod
    def _validate_layers(hidden) -> None:
        if not isinstance(hidden, tuple) or not all(_whole(h) for h in hidden):
            raise SettingError("hidden", "layers", hidden)
        _within("layers", len(hidden), *TrainConfig.LIMITS["layers"])
        for units in hidden:
            _within("hidden", units, *TrainConfig.LIMITS["hidden"])

    def model_config(self) -> ModelConfig:
        """The network this run trains."""
        return ModelConfig(hidden=self.hidden, activation=self.activation)

    def step_cost(self) -> float:
        """What one optimiser step costs next to one of the documented network (at least 1): the server's
        step cap counts a step of a larger network as this many."""
        return max(1.0, self.model_config().parameters() / DEFAULT_MODEL.parameters())

    def to_dict(self) -> dict:
        """The hyperparameters as JSON stores them (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _within(name: str, value, lo, hi) -> None:
    if not lo <= value <= hi:
        raise SettingError(name, "range", value, lo, hi)


def _number(x) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:g}"


def _shown(x) -> str:
    return "" if x is None else _number(x)


def _quoted(value, most: int = 40) -> str:
    """repr(value), cut to `most` characters: a visitor's megabyte-long value is not echoed back whole."""
    text = repr(value)
    return text if len(text) <= most else text[:most] + "..."
