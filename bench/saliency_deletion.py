"""Does the saliency map point at the ink the answer depends on? On MNIST test digits, remove
(set to 0, the background) the 10% of each digit's ink that the answer's map ranks highest, and
separately a random 10% of its ink; compare how much the answer's probability drops.

    python -m bench.saliency_deletion                  # 1,000 test digits, 5 random draws each
    python -m bench.saliency_deletion --digits 200"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch

from mnist_model import DigitRecognizer
from mnist_model.explain import forward_layers, saliency
from train import load_mnist

FRACTION = 0.1     # share of each digit's inked pixels removed


@dataclass(frozen=True)
class Deletion:
    ranked: np.ndarray      # float (N,): the answer's probability drop after removing its top-ranked ink
    random: np.ndarray      # float (N,): the mean drop after removing random ink

    @property
    def margin(self) -> float:
        """Mean drop by the map minus mean drop at random, in probability (0-1)."""
        return float(self.ranked.mean() - self.random.mean())


def answer_probability(rec: DigitRecognizer, images28: np.ndarray, answer: int) -> np.ndarray:
    """float (N,): the probability of class `answer` for uint8 (N, 28, 28) pictures fed to the model as they are."""
    with torch.inference_mode():
        x = torch.from_numpy(images28.reshape(len(images28), -1).astype(np.float32) / 255)
        return forward_layers(rec, x)[-1][1][:, answer].numpy()


def deletion(rec: DigitRecognizer, images: np.ndarray, draws: int = 5, seed: int = 0) -> Deletion:
    """The drops for each uint8 (N, 28, 28) digit, read as the app reads a drawing (rec.predict)."""
    rng = np.random.default_rng(seed)
    ranked, random = [], []
    for image in images:
        p = rec.predict(image)
        picture = p.image28.reshape(-1)
        inked = np.flatnonzero(picture)
        n = max(1, round(FRACTION * len(inked)))
        value = saliency(rec, p.image28, [p.label])[0].reshape(-1)[inked]
        removals = [inked[np.argsort(-value, kind="stable")[:n]]] + [rng.choice(inked, n, replace=False)
                                                                     for _ in range(draws)]
        cut = np.repeat(picture[None], len(removals), axis=0)
        for row, pixels in zip(cut, removals):
            row[pixels] = 0
        after = answer_probability(rec, cut.reshape(-1, 28, 28), p.label)
        before = p.probabilities[p.label]
        ranked.append(before - after[0])
        random.append(before - after[1:].mean())
    return Deletion(np.array(ranked), np.array(random))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--checkpoint", default=None, help="model file (default: the shipped checkpoint)")
    ap.add_argument("--digits", type=int, default=1000, help="MNIST test digits (the first N)")
    ap.add_argument("--draws", type=int, default=5, help="random removals per digit")
    args = ap.parse_args()

    rec = DigitRecognizer.load(args.checkpoint)
    result = deletion(rec, load_mnist().test_x[:args.digits].numpy(), args.draws)
    wins = float((result.ranked > result.random).mean())
    print(f"{args.digits} MNIST test digits, {FRACTION:.0%} of each digit's ink removed:\n"
          f"| removed | mean drop of the answer's probability | median |\n|---|---|---|\n"
          f"| ink the map ranks highest | {result.ranked.mean():.3f} | {np.median(result.ranked):.3f} |\n"
          f"| random ink ({args.draws} draws) | {result.random.mean():.3f} | {np.median(result.random):.3f} |\n"
          f"margin {result.margin:.3f}; the map's removal hurts more on {wins:.1%} of the digits")


if __name__ == "__main__":
    main()
