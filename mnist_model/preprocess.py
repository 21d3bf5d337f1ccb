"""MNIST-style preprocessing: any picture of a digit -> the 28x28 image MNIST would have had.

MNIST digits are white on black, scaled so the longest side of the ink is 20 px, drawn with
strokes about 2-3 px wide, and placed in 28x28 with their centre of mass in the middle. People
draw on the app's 448 px pad (webapp/draw: CANVAS) or upload pictures of any size, with the digit
anywhere, at any size, with any brush, so `to_mnist` rebuilds that:

    ink map (alpha, else luminance with detected polarity), in uint8
    -> crop to the ink -> scale to WORK px (cost: one pass over the input, then constant)
    -> measure the stroke width: thinner than MNIST's range? skeletonise, redraw at its median
       width; thicker? erode to that width; a dot stays a dot
    -> longest side to 20 px, antialiased -> centre of mass to MNIST's centre in 28x28.

An MNIST digit passes through nearly unchanged, since its box is already 20 px, its centre
already in place and most strokes are in range (docs/results.md: The shipped model)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

SIDE = 28                # MNIST image side, px
BOX = 20                 # longest side of the digit inside it, px
WORK = 56                # longest side of the working image where stroke width is measured and fixed
CENTRE = (14.0, 14.0)    # MNIST's centre of mass (row, col): every training digit's lies within 0.5 px of it
# MNIST's 2nd and 90th percentile stroke width (BOX px, `_stroke_width` at WORK). Above the 90th,
# not the 98th, because a fat brush on a small digit measures ~4 px: inside MNIST, yet unlike its typical pen.
WIDTH_RANGE = (1.66, 3.33)
WIDTH_TARGET = 2.44      # MNIST's median stroke width, BOX px: what out-of-range strokes are redrawn at
BLANK = 0.1              # ink below this everywhere (0-1) means nothing is drawn
DOT = 2.5                # ink less than this many stroke widths long is a dot (a disk or a square: 2)
OPAQUE = 250             # alpha at or above this everywhere: the alpha channel carries no drawing
MAX_SIDE = 10_000        # larger than any screen or photo a person would send; refuse, do not decode
SUPERSAMPLE = 4          # redrawn strokes are drawn this much finer, then box-averaged: antialiasing
# The file formats a drawing or a photo comes in. PIL's rarer decoders (QOI, SPIDER, BLP, ...) fail on
# damaged files with IndexError, AttributeError and their own exceptions; a server need not offer them.
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")


class ImageError(ValueError):
    """The input cannot be read as an image (wrong type, empty, NaN/inf, absurd size, unreadable file)."""


def to_mnist(image) -> np.ndarray:
    """uint8 (28, 28), white digit on black, the way MNIST would have drawn `image`; all zeros
    when nothing is drawn. Raises ImageError for anything that cannot be an image.

    `image`: a Gradio Sketchpad value {"background", "layers", "composite"} whose parts are numpy
    arrays, PIL images, file paths or None; a PIL image of any mode; a numpy array (H, W) or
    (H, W, 1|2|3|4), uint8, uint16, bool or float in [0, 1]; or an image file's path."""
    crop = _ink_crop(*(_sketchpad_ink(image) if isinstance(image, dict) else _ink(_as_uint8(image))))
    if crop is None:
        return np.zeros((SIDE, SIDE), np.uint8)
    work = _resize_longest(crop, WORK)
    width = _stroke_width(work) * BOX / max(work.shape)
    if width * DOT > BOX:               # no longer than it is wide: a dot, drawn as MNIST would
        return _place(_redraw(np.ones((1, 1), bool), WIDTH_TARGET))
    if width < WIDTH_RANGE[0]:
        # Too thin to thin further or to trust its antialiasing: redraw the centre line. A low
        # threshold keeps faint sub-pixel strokes connected; the skeleton does not depend on it.
        return _place(_redraw(_skeleton(work > 0.25 * work.max()), WIDTH_TARGET))
    if width > WIDTH_RANGE[1]:
        # Too thick: erode evenly rather than skeletonise, so that loops filled in by a fat
        # brush stay blobs (as in MNIST's own thick digits) instead of turning into lines.
        crop = _erode(work, width * max(work.shape) / BOX)
    return _place(_resize_longest(crop, BOX))


def _stroke_width(ink: np.ndarray) -> float:
    """Mean stroke width in pixels of `ink` (float, 0-1): a stroke of width w and length L has
    mass w*L and perimeter about 2*L, so w = 2 * mass / perimeter (perimeter = summed gradient)."""
    p = np.pad(ink, 1)
    perimeter = np.hypot(np.diff(p, axis=1)[:-1], np.diff(p, axis=0)[:, :-1]).sum()
    return float(2 * ink.sum() / perimeter) if perimeter > 0 else 0.0


def _sketchpad_ink(value: dict) -> tuple[np.ndarray | None, int]:
    """The layers' alpha (what was drawn) if any layer has ink, else the composite, else the background."""
    unknown = set(value) - {"background", "layers", "composite"}
    if unknown:
        raise ImageError(f"a Sketchpad value has keys background, layers and composite, not {sorted(unknown)}")
    layers = value.get("layers")
    layers = [] if layers is None else layers
    if not isinstance(layers, (list, tuple)):
        raise ImageError(f"Sketchpad 'layers' must be a list, got {type(layers).__name__}")
    # Layers are transparent except where drawn, so their ink is their alpha. A layer without
    # transparency (a pasted picture) is left to the composite, which shows it.
    arrays = [_as_uint8(layer) for layer in layers if layer is not None]
    if len({a.shape[:2] for a in arrays}) > 1:
        raise ImageError(f"Sketchpad layers differ in size: {sorted({a.shape[:2] for a in arrays})}")
    drawn = [a[..., -1] for a in arrays if a.shape[2] in (2, 4) and a[..., -1].min() < OPAQUE
             and a[..., -1].max() >= BLANK * 255]
    if drawn:
        return np.maximum.reduce(drawn) if len(drawn) > 1 else drawn[0], 0
    for part in ("composite", "background"):
        if value.get(part) is not None:
            return _ink(_as_uint8(value[part]))
    return None, 0


def _as_uint8(image) -> np.ndarray:
    """Any accepted single image -> validated uint8 (H, W, C), C in 1-4. Eight bits are all a
    screen shows and all MNIST has, and keep the full-size passes over large inputs cheap."""
    if isinstance(image, (str, os.PathLike)):
        try:
            with Image.open(Path(image), formats=FORMATS) as f:
                _check_size(f.size[::-1])
                return _as_uint8(ImageOps.exif_transpose(f))     # a photo upright, as its camera meant it
        except ImageError:
            raise
        # Decoding a hostile file can fail in any way PIL's code can (a bad PNG chunk is a SyntaxError,
        # a cut-off file an OSError, others IndexError...): all of it means "not a readable image".
        except Exception as e:      # noqa: BLE001
            raise ImageError(f"cannot read an image from {str(image)[:200]!r} (a PNG, JPEG, WebP, GIF or BMP "
                             f"file): {type(e).__name__}: {str(e)[:200]}") from None
    if isinstance(image, Image.Image):
        _check_size(image.size[::-1])
        try:
            if image.mode.startswith("I;16"):
                image = np.asarray(image)           # PIL's convert("L") would clip 16-bit values at 255
            elif image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
                image = np.asarray(image.convert("RGBA"))
            else:
                image = np.asarray(image.convert("L"))
        except Exception as e:      # noqa: BLE001 - as above: a lazily opened image decodes here
            raise ImageError(f"cannot decode the image: {type(e).__name__}: {str(e)[:200]}") from None
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected a Sketchpad dict, PIL image, numpy array or file path, "
                         f"got {type(image).__name__}")
    a = image[..., None] if image.ndim == 2 else image
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise ImageError(f"an image array must be (H, W) or (H, W, 1|2|3|4), got shape {image.shape}")
    _check_size(a.shape[:2])
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return (a >> 8).astype(np.uint8)
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype.kind != "f":
        raise ImageError(f"image arrays must be uint8, uint16, bool or float in [0, 1], got {a.dtype}")
    if not np.isfinite(a).all():
        raise ImageError("the image contains NaN or infinity")
    if a.min() < -1e-3 or a.max() > 1 + 1e-3:
        raise ImageError(f"float images must lie in [0, 1], got [{a.min():g}, {a.max():g}] (uint8 is 0-255)")
    return np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)


# EXIF orientation (tag 274) -> the array operation that shows the image upright (PIL's exif_transpose).
_UPRIGHT = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
            5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a.swapaxes(0, 1), 2),
            8: lambda a: np.rot90(a, 1)}


def upright(a: np.ndarray, orientation: int) -> np.ndarray:
    """An (H, W[, C]) image decoded without its EXIF orientation (1-8), turned as that tag says."""
    return np.ascontiguousarray(_UPRIGHT[orientation](a)) if orientation in _UPRIGHT else a


def _check_size(shape: tuple[int, int]) -> None:
    if min(shape) < 1 or max(shape) > MAX_SIDE:
        raise ImageError(f"image size {shape[1]}x{shape[0]} is not usable (each side must be 1-{MAX_SIDE} px)")


def _ink(a: np.ndarray) -> tuple[np.ndarray, int]:
    """uint8 (H, W, C) -> (ink level (H, W) uint8, background level): alpha where it varies
    (background 0), otherwise luminance made light-on-dark, with the border's median as background."""
    if a.shape[2] in (2, 4) and a[..., -1].min() < OPAQUE:
        return a[..., -1], 0
    if a.shape[2] >= 3:
        lum = np.asarray(Image.fromarray(np.ascontiguousarray(a[..., :3])).convert("L"))   # ITU-R 601 luma
    else:
        lum = a[..., 0]
    border = np.concatenate([lum[0], lum[-1], lum[:, 0], lum[:, -1]])
    background = int(np.median(border))
    if background > 127:                      # dark ink on light paper
        return 255 - lum, 255 - background
    return lum, background


def _ink_crop(ink: np.ndarray | None, background: int) -> np.ndarray | None:
    """The ink above `background`, cropped to its bounding box, as float32 in [0, 1]; None if blank."""
    if ink is None:
        return None
    rows = np.flatnonzero(ink.max(1) > background)
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(ink[rows[0]:rows[-1] + 1].max(0) > background)
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32)
    crop = np.clip((crop - background) / (255 - background), 0, 1)
    return crop if crop.max() >= BLANK else None


def _resize_longest(ink: np.ndarray, side: int) -> np.ndarray:
    """Scale so the longest side is `side` px, keeping the aspect ratio; antialiased when shrinking."""
    h, w = ink.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return ink
    return np.asarray(Image.fromarray(ink, mode="F").resize(size, Image.BILINEAR))


def _place(box: np.ndarray) -> np.ndarray:
    """Put `box` (at most BOX x BOX) into SIDE x SIDE with its centre of mass at CENTRE, as uint8."""
    h, w = box.shape
    mass = box.sum()
    com = (np.arange(h) @ box.sum(1) / mass, np.arange(w) @ box.sum(0) / mass)
    top = int(np.clip(round(CENTRE[0] - com[0]), 0, SIDE - h))
    left = int(np.clip(round(CENTRE[1] - com[1]), 0, SIDE - w))
    out = np.zeros((SIDE, SIDE), np.float32)
    out[top:top + h, left:left + w] = box
    return np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)


def _zhang_suen_tables() -> tuple[np.ndarray, np.ndarray]:
    """For each 8-neighbourhood code (bit k = neighbour P(k+2), clockwise from north), whether
    Zhang-Suen's first and second sub-iteration delete the centre pixel."""
    codes = np.arange(256)
    p = [(codes >> k) & 1 for k in range(8)]                               # P2..P9
    count = sum(p)
    transitions = sum((p[k] == 0) & (p[(k + 1) % 8] == 1) for k in range(8))
    base = (count >= 2) & (count <= 6) & (transitions == 1)
    p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
    first = base & (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
    second = base & (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
    return first.astype(bool), second.astype(bool)


_ZS_TABLES = _zhang_suen_tables()
_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))   # P2..P9 as (dy, dx)


def _skeleton(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean image to one-pixel-wide lines (same shape, bool)."""
    img = np.pad(mask, 1).astype(np.uint8)
    h, w = mask.shape
    while True:
        changed = False
        for table in _ZS_TABLES:
            code = np.zeros((h, w), np.uint8)
            for k, (dy, dx) in enumerate(_NEIGHBOURS):
                code |= img[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] << k
            delete = table[code] & (img[1:-1, 1:-1] == 1)
            if delete.any():
                img[1:-1, 1:-1][delete] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _redraw(skeleton: np.ndarray, width: float) -> np.ndarray:
    """Draw the skeleton's pixels as a stroke `width` BOX-px wide, scaled so the drawing's longest
    side is BOX px. Returns float32 in [0, 1], at most BOX x BOX."""
    ys, xs = np.nonzero(skeleton)
    if len(ys) == 0:                    # Zhang-Suen removes a 2x2 blob entirely: draw it as a dot
        ys, xs = np.zeros(1, int), np.zeros(1, int)
    ys, xs = ys - ys.min(), xs - xs.min()
    extent = max(ys.max(), xs.max())
    scale = (BOX - width) / extent if extent > 0 else 1.0           # BOX px per skeleton px
    radius = round(width * SUPERSAMPLE / 2 - 0.5)                     # dilation steps, fine px
    pad = radius + 1
    shape = (np.ceil(np.array([ys.max(), xs.max()]) * scale * SUPERSAMPLE).astype(int) + 2 * pad)
    shape = -(-shape // SUPERSAMPLE) * SUPERSAMPLE                    # whole BOX px
    fine = np.zeros(tuple(shape), bool)
    fine[np.round(ys * scale * SUPERSAMPLE).astype(int) + pad,
         np.round(xs * scale * SUPERSAMPLE).astype(int) + pad] = True
    fine = _morph(fine, radius, np.maximum)
    h, w = shape // SUPERSAMPLE
    return fine.reshape(h, SUPERSAMPLE, w, SUPERSAMPLE).mean((1, 3), dtype=np.float32)


def _erode(work: np.ndarray, width: float) -> np.ndarray:
    """Erode `work` (strokes `width` px wide) so that, once its ink is rescaled to BOX px, the
    strokes are WIDTH_TARGET wide; returns the eroded image cropped to its ink."""
    # Each step takes 1 px off both sides of a stroke, but the ink's extent shrinks by 2 px too
    # and rescaling to BOX widens the strokes again: solve (width - 2k) / (side - 2k) = target / BOX.
    side, ratio = max(work.shape), WIDTH_TARGET / BOX
    steps = (width - ratio * side) / (2 * (1 - ratio))
    whole = int(steps)
    eroded = _morph(work, whole, np.minimum)
    eroded = eroded + (steps - whole) * (_morph(eroded, 1, np.minimum, start=whole) - eroded)
    rows, cols = np.flatnonzero(eroded.max(1) > BLANK), np.flatnonzero(eroded.max(0) > BLANK)
    if len(rows) == 0:                  # the mean width overstated every stroke: leave them as they are
        return work
    return eroded[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _morph(a: np.ndarray, steps: int, op, start: int = 0) -> np.ndarray:
    """Dilate (op=np.maximum) or erode (np.minimum) `a` by an octagon `steps` px in radius, made by
    alternating 3x3 cross and square neighbourhoods (step `start` onwards); outside counts as 0."""
    for step in range(start, start + steps):
        p = np.pad(a, 1)
        parts = [p[1:-1, 1:-1], p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]]
        if step % 2:
            parts += [p[:-2, :-2], p[:-2, 2:], p[2:, :-2], p[2:, 2:]]
        a = op.reduce(parts)
    return a
