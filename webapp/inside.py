"""The Draw tab's "Look inside" view, drawn: every layer as rows of cells coloured by value, the
saliency map over the 28 x 28 picture, a unit's weights and arithmetic, the nearest training digits.
Pure drawing from an Explanation (mnist_model.explain); the handlers are in inside_tab.py."""
from __future__ import annotations

import base64
import html
import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_model import DigitRecognizer, Explanation, Unit

from .i18n import text

COLUMNS = 20           # cells per row in the layers picture
PX = 14                # side of a cell, px, before the page scales the picture to its width
GAP = 8                # px between two layers
TOP = 18               # px above the first layer, under the picture's label
MARGIN = 30            # px on the left for the layers' numbers
STRONGEST = 8          # incoming units listed for a unit past the first layer
FOR, AGAINST = np.array([235, 45, 45]), np.array([45, 120, 255])   # saliency and weights: red +, blue -
SILENT = np.array([34, 34, 40])       # a unit whose value is 0
BACKGROUND = np.array([14, 14, 18], np.uint8)
FONT = ImageFont.load_default(size=12)


def layout(widths: tuple[int, ...]) -> list[int]:
    """The top row of each layer's block in the layers picture (px), and the picture's height last."""
    tops, y = [], TOP
    for width in widths:
        tops.append(y)
        y += -(-width // COLUMNS) * PX + GAP
    return tops + [y]


def cell_at(widths: tuple[int, ...], x: float, y: float) -> tuple[int, int] | None:
    """(layer, unit) of the cell at pixel (x, y) of the layers picture, None between cells."""
    col, tops = int((x - MARGIN) // PX), layout(widths)
    for layer, width in enumerate(widths):
        row = int((y - tops[layer]) // PX)
        if 0 <= col < COLUMNS and y >= tops[layer] and row * COLUMNS + col < width:
            return layer, row * COLUMNS + col
    return None


@lru_cache(maxsize=16)
def cell_map(widths: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """For this shape: int (H, W), each pixel's unit counted over all layers (sum(widths) where there is
    none), and bool (H, W), where the layers' numbers and the outputs' digits are written."""
    tops = layout(widths)
    cells = np.full((tops[-1], MARGIN + COLUMNS * PX + GAP), sum(widths), np.int32)
    first = 0
    for top, width in zip(tops, widths):
        for unit in range(width):
            x, y = MARGIN + unit % COLUMNS * PX, top + unit // COLUMNS * PX
            cells[y:y + PX - 1, x:x + PX - 1] = first + unit
        first += width
    mask = Image.new("1", cells.shape[::-1])
    draw = ImageDraw.Draw(mask)
    for i in range(len(widths) - 1):
        draw.text((6, tops[i]), str(i + 1), fill=1, font=FONT)
    draw.text((2, tops[-2]), "0-9", fill=1, font=FONT)
    for digit in range(min(widths[-1], COLUMNS)):
        draw.text((MARGIN + digit * PX + 3, tops[-2]), str(digit), fill=1, font=FONT)
    return cells, np.asarray(mask)


def heat(v: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 for values 0-1: silent grey through orange to pale yellow."""
    v = np.clip(v, 0, 1)[:, None] ** 0.6
    hot = np.array([255, 150, 20]) * np.minimum(v * 1.6, 1) + np.array([0, 100, 190]) * np.maximum(v * 2 - 1, 0)
    return np.where(v > 0, np.maximum(hot, SILENT), SILENT).astype(np.uint8)


def diverging(m: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
    """(..., 3) uint8: red for positive, blue for negative, by size relative to the largest, over `base`
    (uint8 greyscale, same shape as m; black without one)."""
    scale = float(np.abs(m).max()) or 1.0
    a = (np.abs(m) / scale)[..., None] ** 0.7
    colour = np.where(m[..., None] > 0, FOR, AGAINST)
    under = np.zeros(m.shape + (3,)) if base is None else np.repeat(base[..., None], 3, -1).astype(float)
    return (under * (1 - a) + colour * a).astype(np.uint8)


def layers_picture(e: Explanation, chosen: tuple[int, int] | None) -> np.ndarray:
    """(H, W, 3) uint8: each layer a block of rows of cells; hidden units by value relative to the
    layer's largest, outputs (in green) by probability; the chosen unit outlined in white."""
    widths = tuple(len(layer.value) for layer in e.layers)
    hidden = [heat(layer.value / (layer.value.max() or 1.0)) for layer in e.layers[:-1]]
    palette = np.concatenate([*hidden, heat(e.layers[-1].value)[:, [1, 0, 2]], BACKGROUND[None]])
    cells, text_at = cell_map(widths)
    picture = np.take(palette, cells, axis=0)                  # (H, W, 3); 8x faster than palette[cells]
    picture[text_at] = np.where(palette.astype(np.int16).sum(1, keepdims=True) > 330, 0, 190)[cells[text_at]]
    if chosen is not None:
        layer, unit = chosen
        x, y = MARGIN + unit % COLUMNS * PX, layout(widths)[layer] + unit // COLUMNS * PX
        cell = picture[y:y + PX - 1, x:x + PX - 1].copy()
        picture[y - 2:y + PX + 1, x - 2:x + PX + 1] = 255
        picture[y:y + PX - 1, x:x + PX - 1] = cell
    return picture


def saliency_picture(e: Explanation, digit: int) -> np.ndarray:
    """(28, 28, 3) uint8: the drawing, dimmed, with the ink that argued for `digit` in red, against it in blue."""
    return diverging(e.saliency[digit], (e.prediction.image28 * 0.35).astype(np.uint8))


def first_layer_pictures(u: Unit) -> tuple[np.ndarray, np.ndarray]:
    """A first-layer unit's weights, and their product with the drawing, as (28, 28, 3) uint8."""
    return diverging(u.weights.reshape(28, 28)), diverging(u.contributions.reshape(28, 28))


def arithmetic_html(rec: DigitRecognizer, u: Unit, lang: str) -> str:
    """A unit's sum, bias and activation in numbers; past the first layer, its strongest inputs."""
    output = u.layer == len(rec.model.layers) - 1
    name = text(lang, "inside.unit.output", digit=u.index) if output else text(
        lang, "inside.unit.hidden", layer=u.layer + 1, unit=u.index)
    total = float(u.contributions.astype(np.float64).sum())
    key = "inside.math.output" if output else "inside.math.first" if u.layer == 0 else "inside.math"
    lines = [f"<b>{html.escape(name)}</b>",
             text(lang, key, sum=total, bias=u.bias, z=u.weighted_sum, value=u.value)]
    if u.layer > 0:
        rows = "".join(f"<tr><td>{i}</td><td>{u.inputs[i]:.2f}</td><td>{u.weights[i]:+.2f}</td>"
                       f"<td style='color:rgb{tuple(int(c) for c in (FOR if u.contributions[i] > 0 else AGAINST))}'>"
                       f"{u.contributions[i]:+.2f}</td></tr>" for i in u.strongest(STRONGEST))
        lines.append(f"{text(lang, 'inside.strongest', layer=u.layer)}<table class='inside-table'><tr>"
                     f"{text(lang, 'inside.strongest.head')}</tr>{rows}</table>")
    return "<div class='inside-math'>" + "<br>".join(lines) + "</div>"


@lru_cache(maxsize=4096)
def png_uri(pixels: bytes) -> str:
    """A 28 x 28 uint8 picture's bytes as a data: URI (a training digit is encoded once, then reused)."""
    buffer = io.BytesIO()
    Image.frombytes("L", (28, 28), pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def neighbours_html(e: Explanation, lang: str) -> str:
    """The nearest training digits as tiles with their labels, or why there are none."""
    if e.neighbours is None:
        return f"<p>{text(lang, 'inside.neighbours.none')}</p>"
    tiles = "".join(f"<figure><img src='{png_uri(n.image28.tobytes())}' alt='{n.label}'><figcaption>{n.label}</figcaption>"
                    f"</figure>" for n in e.neighbours)
    return f"<div class='neighbours'>{tiles}</div>"

