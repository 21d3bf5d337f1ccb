"""A personal model: a copy of a trained MLP fine-tuned on the few digits one person labelled.

    replay = Replay.from_mnist(load_mnist())          # MNIST digits mixed into every step
    personal = adapt(base, mean, std, x, y, replay)   # x uint8 (N, 28, 28) as to_mnist makes them, y (N,)

Each step trains on the person's digits (every one, or AdaptConfig.own_batch of them at random;
each shifted by up to `shift` px, or warped as training batches are; their loss weighted `weight`
times a replay digit's) together with `replay` random MNIST training digits, so that the model learns
this hand without forgetting everyone else's. Only the last `layers` linear layers change; the
earlier ones are the base's own modules, shared, so a personal model costs only the memory of the
layers it changed. The base is
never modified. Runs on the calling thread with whatever torch threads the process allows."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mnist_model import MLP

from .augment import augment
from .data import MnistSplits


@dataclass(frozen=True)
class AdaptConfig:
    steps: int = 60          # Adam steps per adaptation
    lr: float = 5e-4         # Adam's learning rate
    weight: float = 4.0      # loss weight of one of the person's digits, relative to one replay digit
    shift: int = 1           # each of the person's digits moved by up to this many pixels, per step
    warp: bool = False       # instead: the training batches' random warp and stroke width (train.augment)
    replay: int = 64         # MNIST training digits mixed into each step
    own_batch: int = 64      # the person's digits per step (all of them when they have fewer)
    layers: int = 5          # the last this many linear layers are adapted (the MLP has 5)
    seed: int = 0            # picks the replay digits and the shifts: same inputs, same weights

    def validate(self) -> "AdaptConfig":
        if not (self.steps >= 1 and self.lr > 0 and self.weight > 0 and self.shift >= 0 and self.replay >= 0
                and self.own_batch >= 1 and self.layers >= 1):
            raise ValueError(f"bad adaptation settings: {self}")
        return self


@dataclass(frozen=True)
class Replay:
    """MNIST training digits to mix in: x uint8 (M, 28, 28), y int64 (M,)."""
    x: torch.Tensor
    y: torch.Tensor

    @classmethod
    def from_mnist(cls, data: MnistSplits, size: int = 10_000, seed: int = 0) -> "Replay":
        """`size` of MNIST's own training digits (not the pen or style additions), picked by `seed`."""
        n = data.mnist_train
        idx = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:min(size, n)]
        return cls(data.train_x[idx].clone(), data.train_y[idx].clone())


def shifted(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Each image of x (N, 28, 28) moved by a random whole number of pixels in [-shift, shift] on each
    axis, the uncovered border black; one slice per offset rather than per image."""
    if shift == 0:
        return x
    n, h, w = x.shape
    padded = F.pad(x, (shift, shift, shift, shift))                     # (N, 28 + 2s, 28 + 2s)
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), generator=gen)    # (N, 2): top-left corner of the crop
    out = torch.empty_like(x)
    for dy, dx in torch.unique(offsets, dim=0).tolist():
        rows = ((offsets[:, 0] == dy) & (offsets[:, 1] == dx)).nonzero().flatten()
        out[rows] = padded[rows, dy:dy + h, dx:dx + w]
    return out


def adapt(base: MLP, mean: float, std: float, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor,
          replay: Replay, config: AdaptConfig = AdaptConfig()) -> MLP:
    """A new MLP: `base` with its last `config.layers` layers fine-tuned on the person's digits `x`
    (uint8 (N, 28, 28), white on black, as mnist_model.to_mnist makes them) labelled `y` (N,), mixed
    with `replay`. The other layers are the base's modules themselves (shared, unchanged)."""
    config.validate()
    own_x = torch.as_tensor(np.asarray(x), dtype=torch.float32).div(255)         # (N, 28, 28), [0, 1]
    own_y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    if own_x.ndim != 3 or own_x.shape[1:] != (28, 28) or len(own_x) != len(own_y) or len(own_y) == 0:
        raise ValueError(f"need digits (N, 28, 28) with N labels, N >= 1; got {tuple(own_x.shape)}, {len(own_y)}")
    if not bool(((own_y >= 0) & (own_y < base.config.n_classes)).all()):
        raise ValueError(f"labels must be 0-{base.config.n_classes - 1}")

    model = copy.deepcopy(base).train()
    n_frozen = len(base.layers) - min(config.layers, len(base.layers))
    params = [p for layer in model.layers[n_frozen:] for p in layer.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    n_own = min(config.own_batch, len(own_y))
    weights = torch.cat([torch.full((n_own,), config.weight), torch.ones(config.replay)])   # (n_own + R,)
    for _ in range(config.steps):
        pick = torch.randperm(len(own_y), generator=gen)[:n_own]
        r = torch.randint(len(replay.y), (config.replay,), generator=gen)
        own = own_x[pick]                                                     # (n_own, 28, 28)
        own = augment(own.unsqueeze(1), gen).squeeze(1) if config.warp else shifted(own, config.shift, gen)
        batch = torch.cat([own, replay.x[r].float().div(255)])                # (n_own + R, 28, 28)
        losses = F.cross_entropy(model((batch - mean) / std), torch.cat([own_y[pick], replay.y[r]]), reduction="none")
        loss = (losses * weights).sum() / weights.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    for p in params:
        p.requires_grad_(False)
    for i in range(n_frozen):             # unchanged: the base's own modules, so their memory is shared
        model.layers[i] = base.layers[i]
    return model.eval()


def adapted_bytes(personal: MLP, base: MLP) -> int:
    """Memory held by `personal` alone: its tensors that are not `base`'s own (the adapted layers)."""
    shared = {id(p) for p in base.parameters()}
    return sum(p.numel() * p.element_size() for p in personal.parameters() if id(p) not in shared)
