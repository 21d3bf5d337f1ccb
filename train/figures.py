"""Pictures of what a run learned, drawn from an EpochEvent's or DoneEvent's plain data: the CLI saves
them as PNGs and the Train tab shows the same ones. Matplotlib's Figure is used without pyplot, so the
server's threads can draw at once and no display is needed."""
from __future__ import annotations

import numpy as np

from mnist_model import SIDE

from .events import Misread

GRID_COLUMNS = 20     # 200 first-layer units: 10 rows of 20


def weight_grid(first_layer: np.ndarray, columns: int = GRID_COLUMNS) -> np.ndarray:
    """(units, 784) weights -> uint8 RGB image (H, W, 3): each unit's weights as a 28 x 28 tile, red
    where ink raises the unit's input, blue where it lowers it, white near zero; each tile scaled to its
    own largest weight, so faint units still show their pattern. 1 px grey gaps between tiles."""
    units = first_layer.shape[0]
    rows = -(-units // columns)
    scale = np.abs(first_layer).max(1, keepdims=True)
    v = (first_layer / np.where(scale > 0, scale, 1)).reshape(units, SIDE, SIDE)          # [-1, 1]
    rgb = np.stack([1 - np.clip(-v, 0, 1), 1 - np.abs(v), 1 - np.clip(v, 0, 1)], -1)   # (units, 28, 28, 3)
    grid = np.full((rows * 29 + 1, columns * 29 + 1, 3), 0.6)
    for i in range(units):
        r, c = divmod(i, columns)
        grid[1 + r * 29:r * 29 + 29, 1 + c * 29:c * 29 + 29] = rgb[i]
    return (grid * 255).round().astype(np.uint8)


def misread_caption(m: Misread) -> str:
    return f"a {m.label}, read as {m.predicted} ({m.confidence:.0%})"


def confusion_figure(confusion: list[list[int]], words: dict[str, str] | None = None):
    """Heatmap of [true][predicted] counts; the colour is on a log scale so that a handful of errors
    off the diagonal still shows beside the ~1,000 right answers on it. `words` replaces the English
    axis texts and title ("predicted", "true", "title" with {right} and {total}, "digits")."""
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    words = {"predicted": "predicted", "true": "true digit", "title": "Test digits: {right:,} of {total:,} right",
             "digits": "digits", **(words or {})}
    counts = np.asarray(confusion)
    fig = Figure(figsize=(5.2, 4.6), dpi=100)
    ax = fig.add_subplot()
    image = ax.imshow(np.maximum(counts, 0.8), cmap="Blues", norm=LogNorm(vmin=0.8, vmax=max(counts.max(), 1)))
    for (t, p), n in np.ndenumerate(counts):
        if n:
            ax.text(p, t, str(n), ha="center", va="center", fontsize=7,
                    color="white" if n > counts.max() ** 0.5 else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel=words["predicted"], ylabel=words["true"],
           title=words["title"].format(right=int(counts.trace()), total=int(counts.sum())))
    fig.colorbar(image, ax=ax, shrink=0.8, label=words["digits"])
    fig.tight_layout()
    return fig


def misread_figure(misread: list[Misread], columns: int = 8):
    """The misread test digits in a grid, each titled with its label, the model's reading and confidence."""
    from matplotlib.figure import Figure

    rows = max(1, -(-len(misread) // columns))
    fig = Figure(figsize=(columns * 1.25, rows * 1.45), dpi=100)
    for i in range(rows * columns):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.set_axis_off()
        if i < len(misread):
            ax.imshow(misread[i].image, cmap="gray", vmin=0, vmax=255)
            ax.set_title(misread_caption(misread[i]).replace(", ", "\n"), fontsize=8)
    fig.suptitle("Test digits misread most confidently", fontsize=10)
    fig.tight_layout()
    return fig
