"""The Draw tab's "Look inside" view, drawn: every layer as rows of cells coloured by value, the
saliency map over the 28 x 28 picture, a unit's weights and arithmetic, the nearest training digits.
Pure drawing from an Explanation (mnist_model.explain), into HTML with the pictures inline; the handlers
are in look_inside.py."""
from __future__ import annotations

import base64
import html
import io
from functools import lru_cache

import numpy as np
from PIL import Image

from mnist_model import DigitRecognizer, Explanation, Unit

from ..i18n import text

COLUMNS = 20           # cells per row in the layers picture
PX = 8                 # px per cell (the last one a dark gap), before the page scales the picture up;
                       # the picture is sent as a PNG after every answer, so it is kept small
GAP = 3                # px between two layers
STRONGEST = 8          # incoming units listed for a unit past the first layer
FOR, AGAINST = np.array([235, 45, 45]), np.array([45, 120, 255])   # saliency and weights: red +, blue -
SILENT = np.array([34, 34, 40])       # a unit whose value is 0
BACKGROUND = np.array([14, 14, 18], np.uint8)


def layout(widths: tuple[int, ...]) -> list[int]:
    """The top row of each layer's block in the layers picture (px), and the picture's height last."""
    tops, y = [], GAP
    for width in widths:
        tops.append(y)
        y += -(-width // COLUMNS) * PX + GAP
    return tops + [y]


def cell_at(widths: tuple[int, ...], x: float, y: float) -> tuple[int, int] | None:
    """(layer, unit) of the cell at pixel (x, y) of the layers picture, None between layers."""
    col, tops = int((x - GAP) // PX), layout(widths)
    for layer, width in enumerate(widths):
        row = int((y - tops[layer]) // PX)
        if 0 <= col < COLUMNS and y >= tops[layer] and row * COLUMNS + col < width:
            return layer, row * COLUMNS + col
    return None


@lru_cache(maxsize=16)
def cell_map(widths: tuple[int, ...]) -> np.ndarray:
    """int (H, W) for this shape: each pixel's unit, counted over all layers; sum(widths) where there is none."""
    tops = layout(widths)
    cells = np.full((tops[-1], 2 * GAP + COLUMNS * PX), sum(widths), np.int32)
    first = 0
    for top, width in zip(tops, widths):
        for unit in range(width):
            x, y = GAP + unit % COLUMNS * PX, top + unit // COLUMNS * PX
            cells[y:y + PX - 1, x:x + PX - 1] = first + unit
        first += width
    return cells


def heat(v: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 for values -1 to 1: 0 silent grey, up through orange to pale yellow, down to blue
    (below 0 only with an activation such as tanh)."""
    up = np.clip(v, 0, 1)[:, None] ** 0.6
    hot = np.array([255, 150, 20]) * np.minimum(up * 1.6, 1) + np.array([0, 100, 190]) * np.maximum(up * 2 - 1, 0)
    down = np.clip(-v, 0, 1)[:, None] ** 0.6
    return np.where(up > 0, np.maximum(hot, SILENT), np.maximum(AGAINST * down, SILENT)).astype(np.uint8)


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
    layer's largest in size, outputs (in green) by probability; the chosen unit framed in white."""
    widths = tuple(len(layer.value) for layer in e.layers)
    hidden = [heat(layer.value / (np.abs(layer.value).max() or 1.0)) for layer in e.layers[:-1]]
    palette = np.concatenate([*hidden, heat(e.layers[-1].value)[:, [1, 0, 2]], BACKGROUND[None]])
    picture = np.take(palette, cell_map(widths), axis=0)      # (H, W, 3); 8x faster than palette[cells]
    if chosen is not None:
        layer, unit = chosen
        x, y = GAP + unit % COLUMNS * PX, layout(widths)[layer] + unit // COLUMNS * PX
        cell = picture[y + 1:y + PX - 2, x + 1:x + PX - 2].copy()
        picture[y - 1:y + PX, x - 1:x + PX] = 255
        picture[y + 1:y + PX - 2, x + 1:x + PX - 2] = cell
    return picture


def picture_uri(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 picture as a PNG data: URI. Inline in the page's HTML, it costs no file in
    Gradio's cache; zlib's fastest level, as these few flat colours compress well anyway."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def figure(rgb: np.ndarray, caption: str, css: str = "inside-pic") -> str:
    return (f"<figure class='{css}'><figcaption>{html.escape(caption)}</figcaption>"
            f"<img src='{picture_uri(rgb)}' alt=''></figure>")


def layers_html(e: Explanation, chosen: tuple[int, int]) -> str:
    """The layers picture, which the page's script turns taps on into the tapped pixel (see TAP_JS)."""
    return f"<img class='inside-layers' src='{picture_uri(layers_picture(e, chosen))}' alt=''>"


def saliency_html(e: Explanation, digit: int, caption: str) -> str:
    """The drawing, dimmed, with the ink that argued for `digit` in red and against it in blue."""
    return figure(diverging(e.saliency[digit], (e.prediction.image28 * 0.35).astype(np.uint8)), caption)


def first_layer_html(u: Unit, lang: str) -> str:
    """A first-layer unit's weights, and their product with the drawing, side by side."""
    return (f"<div class='inside-pair'>{figure(diverging(u.weights.reshape(28, 28)), text(lang, 'inside.weights'))}"
            f"{figure(diverging(u.contributions.reshape(28, 28)), text(lang, 'inside.product'))}</div>")


def arithmetic_html(rec: DigitRecognizer, u: Unit, lang: str) -> str:
    """A unit's sum, bias and activation in numbers; past the first layer, its strongest inputs."""
    output = u.layer == len(rec.model.layers) - 1
    name = text(lang, "inside.unit.output", digit=u.index) if output else text(
        lang, "inside.unit.hidden", layer=u.layer + 1, unit=u.index)
    total = float(u.contributions.astype(np.float64).sum())
    key = "inside.math.output" if output else "inside.math.first" if u.layer == 0 else "inside.math"
    lines = [f"<b>{html.escape(name)}</b>",
             text(lang, key, sum=total, bias=u.bias, z=u.weighted_sum, value=u.value,
                  act=text(lang, f"inside.act.{rec.model.config.activation}"))]
    if u.layer > 0:
        rows = "".join(f"<tr><td>{i}</td><td>{u.inputs[i]:.2f}</td><td>{u.weights[i]:+.2f}</td>"
                       f"<td style='color:rgb{tuple(int(c) for c in (FOR if u.contributions[i] > 0 else AGAINST))}'>"
                       f"{u.contributions[i]:+.2f}</td></tr>" for i in u.strongest(STRONGEST))
        lines.append(f"{text(lang, 'inside.strongest', layer=u.layer)}<table class='inside-table'><tr>"
                     f"{text(lang, 'inside.strongest.head')}</tr>{rows}</table>")
    return "<div class='inside-math'>" + "<br>".join(lines) + "</div>"


@lru_cache(maxsize=4096)
def digit_uri(pixels: bytes) -> str:
    """A training digit's 28 x 28 uint8 bytes as a PNG data: URI, encoded once, then reused."""
    return picture_uri(np.repeat(np.frombuffer(pixels, np.uint8).reshape(28, 28, 1), 3, axis=2))


def neighbours_html(e: Explanation, lang: str) -> str:
    """The nearest training digits as tiles with their labels, or why there are none."""
    if e.neighbours is None:
        return f"<p>{text(lang, 'inside.neighbours.none')}</p>"
    tiles = "".join(f"<figure><img src='{digit_uri(n.image28.tobytes())}' alt='{n.label}'>"
                    f"<figcaption>{n.label}</figcaption></figure>" for n in e.neighbours)
    return f"<div class='neighbours'>{tiles}</div>"

