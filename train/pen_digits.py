"""Real pen-drawn digits replayed as the value a Gradio 6 Sketchpad sends to the server.

    digits = load_pen_digits()                       # PEN_DIGITS, else data/pen_digits/dev.jsonl.gz
    value = render_sketchpad(digits[0], canvas=800, height=0.5, brush=10, seed=0)
    value["layers"][0]     # (800, 800, 4) uint8: transparent, black ink, alpha = ink
    value["composite"]     # (800, 800, 4) uint8: the same ink over opaque white
    value["background"]    # (800, 800, 4) uint8: opaque white

Strokes are drawn as straight segments between the recorded points with round caps and joins,
antialiased by drawing at SUPERSAMPLE times the size and box-averaging down, as the browser's
canvas antialiases its brush."""
from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "pen_digits" / "dev.jsonl.gz"   # in the repo
SUPERSAMPLE = 4          # drawing resolution / canvas resolution, for antialiased stroke edges
BRUSH_REFERENCE = 800    # brush radii are given in pixels of an 800 px canvas and scale with the canvas


@dataclass(frozen=True)
class PenDigit:
    id: str
    writer_group: str                                    # syn, val, ced or uqb: writers never cross groups
    label: int
    strokes: tuple[tuple[tuple[float, float], ...], ...]  # pen-down strokes of (x, y), unit square, y down

    @property
    def writer(self) -> str:
        """Who wrote it, as far as the id tells: the group and the letters that begin the recording's
        file name ("gresai30.dat#1078" -> "val/gresai"), so one writer's numbered sessions stay together."""
        file = self.id.split("#")[0]
        letters = re.match(r"[A-Za-z]+", file)
        return f"{self.writer_group}/{letters.group(0) if letters else file}"


def load_pen_digits(path: str | os.PathLike | None = None) -> list[PenDigit]:
    """Read the JSON-lines pen digits at `path`, gzipped if it ends in .gz (default: $PEN_DIGITS, else
    the dev set committed in data/pen_digits/)."""
    path = Path(path or os.environ.get("PEN_DIGITS") or DEFAULT_PATH)
    digits = []
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                strokes = tuple(tuple((float(x), float(y)) for x, y in s) for s in d["strokes"] if s)
                digits.append(PenDigit(str(d["id"]), str(d["writer_group"]), int(d["label"]), strokes))
    return digits


def writer_folds(digits: list[PenDigit], k: int = 2) -> list[int]:
    """A fold 0..k-1 for each digit such that no writer is in two folds and each fold has some writers
    of every group (each group's writers, largest first, are dealt round-robin)."""
    sizes = Counter(d.writer for d in digits)
    group_of = {d.writer: d.writer_group for d in digits}
    fold_of: dict[str, int] = {}
    for group in sorted(set(group_of.values())):
        writers = sorted((w for w, g in group_of.items() if g == group), key=lambda w: (-sizes[w], w))
        fold_of.update({w: i % k for i, w in enumerate(writers)})
    return [fold_of[d.writer] for d in digits]


# Stroke variation for training (perturb_strokes), in units of the digit's longest side: each stroke is
# moved, turned and resized on its own, and the whole drawing is bent by a smooth displacement field.
STROKE_SHIFT = 0.08      # standard deviation of each stroke's move
STROKE_TURN = 10.0       # standard deviation of each stroke's rotation about its centre, degrees
STROKE_SCALE = (0.92, 1.08)
BEND = 0.06              # standard deviation of the amplitude of each of the field's 4 sine terms


def perturb_strokes(digit: PenDigit, rng: np.random.Generator) -> PenDigit:
    """The same digit as another person might have drawn it: strokes placed a little differently (a
    five's bar detached further, a four's top more open) and lines bent, which a warp of the finished
    28x28 image cannot do. Points may leave the unit square; render_ink fits the drawing anyway."""
    points = np.concatenate([np.asarray(s, dtype=np.float64) for s in digit.strokes])   # (P, 2)
    extent = max(float(np.ptp(points[:, 0])), float(np.ptp(points[:, 1])), 1e-3)
    freq = rng.uniform(0.5, 2.0, (2, 2)) * np.pi / extent     # [axis moved, axis it varies along]
    phase = rng.uniform(0, 2 * np.pi, (2, 2))
    amp = rng.normal(0, BEND * extent, (2, 2))
    strokes = []
    for stroke in digit.strokes:
        p = np.asarray(stroke, dtype=np.float64)                               # (n, 2) as (x, y)
        centre = p.mean(0)
        a = np.radians(rng.normal(0, STROKE_TURN))
        turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * rng.uniform(*STROKE_SCALE)
        p = (p - centre) @ turn.T + centre + rng.normal(0, STROKE_SHIFT * extent, 2)
        bend = (amp[:, None, :] * np.sin(freq[:, None, :] * p[None] + phase[:, None, :])).sum(-1)   # (2, n)
        strokes.append(tuple(map(tuple, p + bend.T)))
    return replace(digit, strokes=tuple(strokes))


def render_ink(digit: PenDigit, canvas: int = 800, height: float = 0.5, brush: float = 10.0,
               seed: int = 0) -> np.ndarray:
    """The drawing's ink as a (canvas, canvas) uint8 coverage map, 255 = fully inked.

    height: the digit's height as a fraction of the canvas (narrowed if it would not fit across);
    brush: brush radius in pixels of an 800 px canvas; seed: picks the random position."""
    if not 0 < height <= 1 or brush <= 0 or canvas < 8:
        raise ValueError(f"need 0 < height <= 1, brush > 0, canvas >= 8; got {height}, {brush}, {canvas}")
    radius = brush * canvas / BRUSH_REFERENCE
    points = np.concatenate([np.asarray(s, dtype=np.float64) for s in digit.strokes])   # (P, 2)
    lo, hi = points.min(0), points.max(0)
    extent = np.maximum(hi - lo, 1e-6)
    room = canvas - 2 * radius - 2
    scale = min(height * canvas / extent[1], room / extent[0], room / extent[1])
    size = extent * scale + 2 * radius + 2                                     # (w, h) of the inked box
    rng = np.random.default_rng(seed)
    origin = np.floor(rng.uniform(0, np.maximum(canvas - size, 0))).astype(int)   # top-left of that box
    box = np.ceil(size).astype(int)

    ss = SUPERSAMPLE
    img = Image.new("L", tuple(box * ss), 0)
    draw = ImageDraw.Draw(img)
    r = radius * ss
    for stroke in digit.strokes:
        xy = [tuple(((np.asarray(p) - lo) * scale + radius + 1) * ss) for p in stroke]
        if len(xy) > 1:
            draw.line(xy, fill=255, width=max(1, round(2 * r)), joint="curve")
        for x, y in xy:                                          # round caps, and joins at sharp turns
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = np.asarray(img.reduce(ss))
    ink = np.zeros((canvas, canvas), np.uint8)
    x0, y0 = origin
    h, w = min(small.shape[0], canvas - y0), min(small.shape[1], canvas - x0)
    ink[y0:y0 + h, x0:x0 + w] = small[:h, :w]
    return ink


def render_sketchpad(digit: PenDigit, canvas: int = 800, height: float = 0.5, brush: float = 10.0,
                     seed: int = 0) -> dict:
    """The Sketchpad value {"background", "layers", "composite"} (RGBA uint8 numpy arrays) for
    `digit` drawn in black on a white canvas of `canvas` pixels; arguments as in `render_ink`."""
    ink = render_ink(digit, canvas, height, brush, seed)
    layer = np.zeros((canvas, canvas, 4), np.uint8)
    layer[..., 3] = ink
    composite = np.full((canvas, canvas, 4), 255, np.uint8)
    composite[..., :3] = (255 - ink)[..., None]
    return {"background": np.full((canvas, canvas, 4), 255, np.uint8), "layers": [layer], "composite": composite}
