"""Augmentation applied to whole batches on the training device (no per-sample Python).

People draw digits rotated, slanted, off-size and with pens of every width; MNIST has less of
that, so each training batch gets a random affine warp and a random stroke-width change."""
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
    b, dev = x.shape[0], x.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(b, generator=generator, device=generator.device) * (hi - lo) + lo).to(dev)

    angle = uniform(-MAX_ROTATE, MAX_ROTATE) * (math.pi / 180)
    scale = uniform(*SCALE)
    shear = uniform(-MAX_SHEAR, MAX_SHEAR)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    # affine_grid maps output coords to input coords, so this is the inverse of the warp we want.
    theta = torch.stack([torch.stack([cos, -sin + shear * cos, uniform(-MAX_SHIFT, MAX_SHIFT)], 1),
                         torch.stack([sin, cos + shear * sin, uniform(-MAX_SHIFT, MAX_SHIFT)], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    # Stroke width: blend towards a 3x3 dilation (thicker) or erosion (thinner) by a random amount.
    amount = uniform(-WIDTH_CHANGE, WIDTH_CHANGE).view(b, 1, 1, 1)
    dilated = F.max_pool2d(x, 3, 1, 1)
    eroded = -F.max_pool2d(-x, 3, 1, 1)
    return torch.where(amount > 0, x + amount * (dilated - x), x + amount * (x - eroded))
