"""What a personal model (train.adapt) is worth to the person drawing, prequentially: each writer of
one fold of bench.pen_heldout's writer split with at least MIN_DIGITS dev pen digits draws their
digits in order, each as a Sketchpad value at a canvas, height and brush of bench.pen_accuracy's grid
picked at random, passed through the app's own preprocessing. Every digit is read by the base model
and by the writer's current personal model (the base until their first correction); when the
personal model misreads it, the writer corrects it and the personal model is adapted again, from the
base, on all of the writer's labelled digits so far. `--mode all`: every digit is corrected or
confirmed (an adaptation after each). The base is the shipped recipe trained without the fold's
writers (bench.personal_base), so they are people it never saw.

    python -m bench.personal_gain                               # fold 0 of 5, 20-epoch base
    python -m bench.personal_gain --mode all
    python -m bench.personal_gain --steps 30,60,100 --layers 1,5 --lr 5e-4,1e-3   # every combination

Goal: personal at least 1.5 points above the base online, and at least 97.5%."""
from __future__ import annotations

import argparse
import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

from bench.pen_accuracy import BRUSHES, CANVASES, HEIGHTS
from bench.personal_base import base_recognizer, split
from mnist_model import MLP, DigitRecognizer, to_mnist
from train import load_mnist
from train.adapt import AdaptConfig, Replay, adapt, adapted_bytes
from train.pen_digits import PenDigit, load_pen_digits, render_sketchpad

MIN_DIGITS = 15        # writers with fewer dev digits are left out: too short a sequence to learn from


@dataclass
class Tally:
    base: list[bool] = field(default_factory=list)            # each digit read right by the base
    personal: list[bool] = field(default_factory=list)        # ... by the personal model of that moment
    after_base: list[bool] = field(default_factory=list)      # the same, for digits after the first correction
    after_personal: list[bool] = field(default_factory=list)
    corrections: dict[str, int] = field(default_factory=dict)  # writer -> corrections of a misread
    seconds: list[float] = field(default_factory=list)         # one per adaptation
    state_bytes: list[int] = field(default_factory=list)       # per writer at the end: their labelled digits
    model_bytes: int = 0                                       # one personal model's own tensors


def drawings(digits: list[PenDigit], seed: int) -> np.ndarray:
    """uint8 (N, 28, 28): each digit drawn as a Sketchpad value at a random grid point and position,
    then preprocessed as the app does."""
    rng = np.random.default_rng(seed)
    out = []
    for d in digits:
        value = render_sketchpad(d, canvas=int(rng.choice(CANVASES)), height=float(rng.choice(HEIGHTS)),
                                 brush=float(rng.choice(BRUSHES)), seed=int(rng.integers(1 << 30)))
        out.append(to_mnist(value))
    return np.stack(out)


def read(model: MLP, mean: float, std: float, x: np.ndarray) -> np.ndarray:
    """Labels for x uint8 (N, 28, 28): what DigitRecognizer.predict says after to_mnist."""
    return DigitRecognizer(model, mean, std).probabilities(x).argmax(1)


def repeated(y: np.ndarray, says: np.ndarray) -> int:
    """How many misreads in one writer's sequence repeat a (true, read) pair met earlier in it."""
    seen, count = set(), 0
    for pair in zip(y[says != y].tolist(), says[says != y].tolist()):
        count += pair in seen
        seen.add(pair)
    return count


def prequential(writers: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], base: MLP, mean: float,
                std: float, replay: Replay, config: AdaptConfig, mode: str, keep: int) -> Tally:
    """writers: {writer: (x uint8 (N, 28, 28) in drawing order, labels (N,), the base's labels (N,))};
    each writer's newest `keep` labelled digits are learned from, as the app keeps them."""
    t = Tally()
    for writer, (x, y, base_says) in writers.items():
        personal, own, corrected = None, [], False
        for i in range(len(y)):
            says = base_says[i] if personal is None else read(personal, mean, std, x[i:i + 1])[0]
            t.base.append(base_says[i] == y[i])
            t.personal.append(says == y[i])
            if corrected:
                t.after_base.append(base_says[i] == y[i])
                t.after_personal.append(says == y[i])
            if says != y[i] or mode == "all":
                corrected = corrected or says != y[i]
                t.corrections[writer] = t.corrections.get(writer, 0) + int(says != y[i])
                own = (own + [i])[-keep:]
                started = time.perf_counter()
                personal = adapt(base, mean, std, x[own], y[own], replay, config)
                t.seconds.append(time.perf_counter() - started)
                t.model_bytes = adapted_bytes(personal, base)
        t.corrections.setdefault(writer, 0)
        t.state_bytes.append(x[own].nbytes + len(own))
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--mode", choices=("misread", "all"), default="misread",
                    help="misread: only misread digits are corrected; all: every digit is corrected or confirmed")
    ap.add_argument("--fold", type=int, default=0, help="the writers played, by bench.pen_heldout's split")
    ap.add_argument("--folds", type=int, default=5, help="folds of the writer split")
    ap.add_argument("--base-epochs", type=int, default=20, help="epochs of the base (the shipped recipe: 20)")
    ap.add_argument("--seed", type=int, default=0, help="base training seed; also picks the drawings' settings")
    ap.add_argument("--data-dir", default=None, help="MNIST folder (default: $MNIST_ROOT or ./data)")
    ap.add_argument("--pen-digits", default=None, help="JSON-lines pen digits (default: the dev set)")
    ap.add_argument("--keep", type=int, default=100, help="a writer's newest labelled digits learned from")
    default = AdaptConfig()
    for name in ("steps", "lr", "weight", "shift", "warp", "replay", "own_batch", "layers"):
        ap.add_argument("--" + name.replace("_", "-"), default=str(getattr(default, name)),
                        help="comma-separated values: every combination is run")
    args = ap.parse_args()
    torch.set_num_threads(1)                 # as the app adapts: one thread

    digits = load_pen_digits(args.pen_digits)
    held, _ = split(digits, args.fold, args.folds)
    by_writer = defaultdict(list)
    for d in held:
        by_writer[d.writer].append(d)
    by_writer = {w: ds for w, ds in sorted(by_writer.items()) if len(ds) >= MIN_DIGITS}
    rec = base_recognizer(digits, args.fold, args.folds, args.base_epochs, args.seed, args.data_dir)
    mean, std = rec.mean, rec.std
    replay = Replay.from_mnist(load_mnist(args.data_dir))
    started = time.perf_counter()
    writers = {}
    for k, (w, ds) in enumerate(by_writer.items()):
        x = drawings(ds, args.seed * 1000 + k)
        writers[w] = (x, np.array([d.label for d in ds]), read(rec.model, mean, std, x))
    n = sum(len(y) for _, y, _ in writers.values())
    errors = [(y[i], b[i]) for _, y, b in writers.values() for i in np.nonzero(b != y)[0]]
    repeats = sum(repeated(y, b) for _, y, b in writers.values())
    print(f"fold {args.fold} of {args.folds}: {n} digits of {len(writers)} writers with >= {MIN_DIGITS} "
          f"(base: shipped recipe, {args.base_epochs} epochs, without them; MNIST test "
          f"{rec.info['test_accuracy']:.2%}); drawn in {time.perf_counter() - started:.0f} s; mode {args.mode}")
    print(f"the base misreads {len(errors)}; {repeats} of them repeat a confusion (true, read) the same writer "
          f"met before: a model that learned exactly those would score {1 - (len(errors) - repeats) / n:.2%}")
    print("| steps | lr | weight | shift | warp | replay | own batch | layers | base online | personal online | gain "
          "| after 1st correction: base / personal | corrections per writer | adapt p50 / p95 ms "
          "| per visitor: digits / model |")
    print("|" + "---|" * 15)
    kinds = {"steps": int, "lr": float, "weight": float, "shift": int,
             "warp": lambda v: v.lower() in ("1", "true", "yes"), "replay": int, "own_batch": int, "layers": int}
    grid = [getattr(args, name).split(",") for name in kinds]
    for values in itertools.product(*grid):
        config = AdaptConfig(**{name: kind(v) for (name, kind), v in zip(kinds.items(), values)})
        t = prequential(writers, rec.model, mean, std, replay, config, args.mode, args.keep)
        b, p = np.mean(t.base), np.mean(t.personal)
        after = (f"{np.mean(t.after_base):.2%} / {np.mean(t.after_personal):.2%} ({len(t.after_base)})"
                 if t.after_base else "-")
        ms = np.percentile(t.seconds, [50, 95]) * 1000 if t.seconds else (0, 0)
        print(f"| {' | '.join(values)} | {b:.2%} | **{p:.2%}** | {100 * (p - b):+.2f} | {after} | "
              f"{np.mean(list(t.corrections.values())):.2f} | {ms[0]:.0f} / {ms[1]:.0f} | "
              f"{max(t.state_bytes) / 1024:.0f} KB max / {t.model_bytes / 1024:.0f} KB |", flush=True)


if __name__ == "__main__":
    main()
