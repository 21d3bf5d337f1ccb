"""Writing styles MNIST hardly contains, drawn onto MNIST digits as extra training data.

Most errors on real pen digits are not size or brush (preprocessing handles those) but styles:
zeros with a slash read as 4 or 2, ones with a flag (and a foot) read as 7, sevens with a
crossbar. Here such strokes are drawn onto real MNIST zeros, ones and sevens, and each result goes
through the app's own preprocessing, so it lands in the 20 px box as any drawing would."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from mnist_model import SIDE, to_mnist

SCALE = 4             # strokes are drawn on a 112 px copy of the 28 px digit: antialiased edges
WIDTH = (2.0, 3.2)    # added stroke width, px of the 28 px image: MNIST's own range


def style_variants(x: torch.Tensor, y: torch.Tensor, fraction: float = 0.5,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """For `fraction` of the zeros, ones and sevens in (x uint8 (N, 28, 28), y), a copy with a slash,
    a flag (and sometimes a foot) or a crossbar. Returns (x_extra, y_extra, a note for the checkpoint)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for label, draw in STYLES.items():
        idx = torch.nonzero(y == label).flatten().numpy()
        for i in rng.choice(idx, _share(len(idx), fraction), replace=False):
            big = Image.fromarray(x[i].numpy()).resize((SIDE * SCALE,) * 2, Image.BILINEAR)
            box = _ink_box(np.asarray(big))
            if box is None:
                continue
            pen = ImageDraw.Draw(big)
            width = round(rng.uniform(*WIDTH) * SCALE)
            for line in draw(box, rng):
                pen.line(line, fill=255, width=width, joint="curve")
                for px, py in line:       # round caps, as a pen or brush leaves
                    pen.ellipse((px - width / 2, py - width / 2, px + width / 2, py + width / 2), fill=255)
            xs.append(to_mnist(np.asarray(big)))
            ys.append(label)
    note = {"styles": {"fraction": fraction, "digits": len(xs)}}
    x_extra = torch.from_numpy(np.stack(xs)) if xs else torch.zeros((0, SIDE, SIDE), dtype=torch.uint8)
    return x_extra, torch.tensor(ys, dtype=torch.int64), note


def styled_count(y: torch.Tensor, fraction: float) -> int:
    """How many copies style_variants(x, y, fraction) adds at most (digits with no ink get none)."""
    return sum(_share(int((y == label).sum()), fraction) for label in STYLES)


def _share(n: int, fraction: float) -> int:
    return int(n * fraction)


def _ink_box(img: np.ndarray) -> tuple[float, float, float, float, float, float] | None:
    """(left, top, right, bottom, x of the top ink, x of the bottom ink) of pixels above half intensity."""
    rows, cols = np.nonzero(img > 127)
    if len(rows) == 0:
        return None
    top, bottom = rows.min(), rows.max()
    return (cols.min(), top, cols.max(), bottom, cols[rows <= top + 2 * SCALE].mean(),
            cols[rows >= bottom - 2 * SCALE].mean())


def _slash(box, rng) -> list[list[tuple[float, float]]]:
    """A straight stroke through the zero's centre, past its edges: from nearly upright (as in a
    phi) to corner to corner, mostly leaning right, some leaning left."""
    left, top, right, bottom, _, _ = box
    h = bottom - top
    cx, cy = (left + right) / 2, (top + bottom) / 2
    if rng.random() < 0.5:
        lean = np.radians(rng.uniform(-10, 35))                  # from upright, clockwise
        half = h / 2 + rng.uniform(0.05, 0.4) * h
        dx, dy = half * np.sin(lean), half * np.cos(lean)
        return [[(cx - dx, cy + dy), (cx + dx, cy - dy)]]
    over = rng.uniform(0.0, 0.15) * h
    if rng.random() < 0.75:
        return [[(left - over, bottom + over), (right + over, top - over)]]
    return [[(left - over, top - over), (right + over, bottom + over)]]


def _flag(box, rng) -> list[list[tuple[float, float]]]:
    """A flag from the top of the one, down and to the left; half the time a foot under it too."""
    _, top, _, bottom, top_x, bottom_x = box
    h = bottom - top
    length, angle = rng.uniform(0.2, 0.6) * h, np.radians(rng.uniform(20, 55))   # below the horizontal
    lines = [[(top_x, top), (top_x - length * np.cos(angle), top + length * np.sin(angle))]]
    if rng.random() < 0.5:
        half = rng.uniform(0.15, 0.3) * h
        lines.append([(bottom_x - half, bottom), (bottom_x + half, bottom)])
    return lines


def _crossbar(box, rng) -> list[list[tuple[float, float]]]:
    """A short horizontal bar across the seven's stem, about half-way down."""
    left, top, right, bottom, top_x, bottom_x = box
    y = top + rng.uniform(0.45, 0.6) * (bottom - top)
    stem_x = bottom_x + (top_x - bottom_x) * (bottom - y) / max(bottom - top, 1) * 0.5
    half = rng.uniform(0.15, 0.25) * (bottom - top)
    return [[(stem_x - half, y), (stem_x + half, y)]]


STYLES = {0: _slash, 1: _flag, 7: _crossbar}     # the digits that get a style copy, and how it is drawn
