"""Augmentation applied to whole batches on the training device (no per-sample Python).

People draw digits rotated, slanted, off-size and with pens of every width; MNIST has less of
that, so each training batch gets a random affine warp and a random stroke-width change.

Built from elementwise ops rather than F.affine_grid and F.max_pool2d, which on a CPU spend most of
their time on generality this 28 x 28, one-channel case does not need (same result to float
rounding, a fraction of the cost: docs/results.md: Train tab latency)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_ROTATE = 12.0      # degrees, either way
SCALE = (0.85, 1.10)   # digit size relative to MNIST's 20 px box
MAX_SHEAR = 0.25       # horizontal shear (slant) factor
MAX_SHIFT = 0.10       # fraction of the half-width (~1.4 px), the centre-of-mass jitter of real inputs
WIDTH_CHANGE = 0.8     # up to this much of a one-pixel erosion (thinner) or dilation (thicker)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """x: (B, 1, 28, 28) in [0, 1], white on black. Returns a new batch of the same shape."""
    b, side, dev = x.shape[0], x.shape[-1], x.device

    def uniform(lo: float, hi: float) -> torch.Tensor:      # (B, 1, 1): one value per digit
        return (torch.rand(b, generator=generator, device=generator.device) * (hi - lo) + lo).to(dev).view(b, 1, 1)

    angle = uniform(-MAX_ROTATE, MAX_ROTATE) * (math.pi / 180)
    scale = uniform(*SCALE)
    shear = uniform(-MAX_SHEAR, MAX_SHEAR)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    shift_x, shift_y = uniform(-MAX_SHIFT, MAX_SHIFT), uniform(-MAX_SHIFT, MAX_SHIFT)
    # Pixel centres in [-1, 1], as affine_grid(align_corners=False) places them: (1, 1, W) and (1, H, 1).
    u = (torch.arange(side, dtype=x.dtype, device=dev) * 2 + 1) / side - 1
    gx, gy = u.view(1, 1, side), u.view(1, side, 1)
    # Output coords to input coords, so this is the inverse of the warp we want.
    grid = torch.stack([cos * gx + (shear * cos - sin) * gy + shift_x,
                        sin * gx + (cos + shear * sin) * gy + shift_y], -1)    # (B, H, W, 2)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    # Stroke width: blend towards a 3x3 dilation (thicker) or erosion (thinner) by a random amount.
    amount = uniform(-WIDTH_CHANGE, WIDTH_CHANGE).view(b, 1, 1, 1)
    dilated = _max3x3(F.pad(x, (1, 1, 1, 1), value=0.0))          # x >= 0: a 0 border never wins
    eroded = -_max3x3(F.pad(-x, (1, 1, 1, 1), value=-1.0))        # -x >= -1: nor does a -1 border
    return torch.where(amount > 0, x + amount * (dilated - x), x + amount * (x - eroded))


def _max3x3(padded: torch.Tensor) -> torch.Tensor:
    """(B, 1, H + 2, W + 2) -> (B, 1, H, W): the max over each 3 x 3 window, as a row pass then a column pass."""
    rows = torch.maximum(torch.maximum(padded[..., :-2], padded[..., 1:-1]), padded[..., 2:])
    return torch.maximum(torch.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])
