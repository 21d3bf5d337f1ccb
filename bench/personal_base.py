"""The base model of bench.personal_gain: the shipped recipe (MNIST, style variants and the dev pen
digits, each drawn PEN_RENDERS times) trained without one fold of bench.pen_heldout's writer split,
so that the fold's writers are people it never saw. Cached under runs/ (git-ignored): training it
takes minutes of CPU."""
from __future__ import annotations

import time
from pathlib import Path

from bench.pen_heldout import train_recognizer
from mnist_model import DigitRecognizer, save_checkpoint
from train import TrainConfig, load_mnist
from train.data import PEN_RENDERS, pen_renders
from train.pen_digits import PenDigit, writer_folds

CACHE = Path("runs") / "personal_gain"


def split(digits: list[PenDigit], fold: int, folds: int) -> tuple[list[PenDigit], list[PenDigit]]:
    """(the fold's digits, the others'): writer_folds' deal, as bench.pen_heldout makes it."""
    which = writer_folds(digits, folds)
    return [d for d, f in zip(digits, which) if f == fold], [d for d, f in zip(digits, which) if f != fold]


def base_recognizer(digits: list[PenDigit], fold: int, folds: int, epochs: int, seed: int = 0,
                    data_dir: str | None = None) -> DigitRecognizer:
    """The shipped recipe at `epochs`, trained on MNIST plus the pen digits of every fold but `fold`;
    loaded from the cache when an earlier call trained it."""
    path = CACHE / f"base-fold{fold}of{folds}-e{epochs}-s{seed}.safetensors"
    if path.is_file():
        return DigitRecognizer.load(path)
    _, seen = split(digits, fold, folds)
    config = TrainConfig(epochs=epochs, seed=seed)
    started = time.perf_counter()
    data = load_mnist(data_dir, config.valid_size, seed).with_extra_training(*pen_renders(seen, PEN_RENDERS, seed))
    rec = train_recognizer(config, data, fold)
    save_checkpoint(path, rec.model, rec.info)
    print(f"base for fold {fold} of {folds}: {epochs} epochs on {len(seen)} pen digits of "
          f"{len({d.writer for d in seen})} writers; MNIST test {rec.info['test_accuracy']:.2%}; "
          f"{time.perf_counter() - started:.0f} s")
    return rec
