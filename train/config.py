"""Every training hyperparameter in one frozen dataclass; the CLI and the app build their inputs from it."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

DEVICES = ("auto", "cpu", "cuda")


def _field(default, help: str):
    """A dataclass field with its help text, which the CLI shows in --help."""
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _field(20, "full passes over the 55,000 training digits")
    batch_size: int = _field(128, "digits per Adam step")
    lr: float = _field(2e-3, "Adam's initial learning rate")
    lr_factor: float = _field(0.3, "ReduceLROnPlateau multiplies the lr by this when valid loss stalls")
    lr_patience: int = _field(1, "epochs without valid-loss improvement before the lr is reduced")
    augment: bool = _field(True, "random affine and stroke-width changes on every training batch")
    augment_share: float = _field(1.0, "fraction of each batch's digits augmented (when augment is on); the "
                                       "rest train as drawn, which reaches a given valid accuracy sooner")
    styles: float = _field(0.5, "fraction of MNIST's 0s, 1s and 7s also trained with a slash, flag or crossbar")
    seed: int = _field(0, "same seed, same machine: same metrics")
    valid_size: int = _field(5000, "digits held out of the 60,000 for validation and lr scheduling")
    device: str = _field("auto", "auto (CUDA when present, else CPU), cpu or cuda")

    # Server-side bounds: the UI's sliders use them too, so nothing is defined twice.
    LIMITS = {"epochs": (1, 100), "batch_size": (1, 8192), "lr": (1e-6, 1.0), "lr_factor": (0.01, 0.99),
              "lr_patience": (0, 50), "augment_share": (0.0, 1.0), "styles": (0.0, 1.0), "valid_size": (100, 20000), "seed": (0, 2**31 - 1)}

    def validate(self) -> "TrainConfig":
        """Return self, or raise ValueError naming the first bad hyperparameter."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", int) and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{f.name} must be a whole number, got {value!r}")
            if f.type in ("float", float) and (not isinstance(value, (int, float)) or isinstance(value, bool)
                                               or not math.isfinite(value)):
                raise ValueError(f"{f.name} must be a finite number, got {value!r}")
            if f.type in ("bool", bool) and not isinstance(value, bool):
                raise ValueError(f"{f.name} must be true or false, got {value!r}")
            if f.name in self.LIMITS:
                lo, hi = self.LIMITS[f.name]
                if not lo <= value <= hi:
                    raise ValueError(f"{f.name} must be between {lo:g} and {hi:g}, got {value!r}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")
        return self

    def to_dict(self) -> dict:
        return asdict(self)
