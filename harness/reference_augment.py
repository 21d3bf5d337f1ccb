"""The batch augmentation written with torch's general-purpose ops (affine_grid, grid_sample,
max_pool2d), as it first was: the reference that train.augment's faster version is checked and timed
against."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from train import augment as aug


def reference_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The augmentation written with torch's general ops (affine_grid, max_pool2d), as it first was."""
    b = x.shape[0]

    def uniform(lo, hi):
        return torch.rand(b, generator=generator) * (hi - lo) + lo

    angle = uniform(-aug.MAX_ROTATE, aug.MAX_ROTATE) * (math.pi / 180)
    scale, shear = uniform(*aug.SCALE), uniform(-aug.MAX_SHEAR, aug.MAX_SHEAR)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    shift_x, shift_y = uniform(-aug.MAX_SHIFT, aug.MAX_SHIFT), uniform(-aug.MAX_SHIFT, aug.MAX_SHIFT)
    theta = torch.stack([torch.stack([cos, -sin + shear * cos, shift_x], 1),
                         torch.stack([sin, cos + shear * sin, shift_y], 1)], 1)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    amount = uniform(-aug.WIDTH_CHANGE, aug.WIDTH_CHANGE).view(b, 1, 1, 1)
    dilated, eroded = F.max_pool2d(x, 3, 1, 1), -F.max_pool2d(-x, 3, 1, 1)
    return torch.where(amount > 0, x + amount * (dilated - x), x + amount * (x - eroded))
