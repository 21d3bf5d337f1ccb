"""MNIST as in-memory tensors: the whole set is ~55 MB of uint8, so batches are made by indexing
instead of a DataLoader with per-sample PIL transforms, whose per-digit Python work would dominate
this small MLP's epoch (docs/results.md: Training speed)."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from mnist_model import to_mnist

from .cache import cached
from .pen_digits import PenDigit, perturb_strokes, render_ink

RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DEFAULT_ROOT = Path("data")
PEN_RENDERS = 8          # drawings of each real pen digit in training (train.cli --pen-renders)


class DataError(RuntimeError):
    """MNIST is missing and could not be downloaded."""


@dataclass
class MnistSplits:
    """Images are uint8 (N, 28, 28), white digit on black; labels int64 (N,)."""
    train_x: torch.Tensor
    train_y: torch.Tensor
    valid_x: torch.Tensor
    valid_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    extra: dict = field(default_factory=dict)   # what was added to train_x beyond MNIST (saved with the model)
    extra_digits: int = 0                       # how many of train_x's last digits are such additions

    @property
    def mnist_train(self) -> int:
        """How many leading training digits are MNIST's own."""
        return len(self.train_x) - self.extra_digits

    def with_extra_training(self, x: torch.Tensor, y: torch.Tensor, note: dict) -> "MnistSplits":
        """These splits with (x, y) appended to the training digits only: valid and test stay pure MNIST,
        so valid accuracy, the lr schedule and the test score mean what they always meant."""
        return replace(self, train_x=torch.cat([self.train_x, x]), train_y=torch.cat([self.train_y, y]),
                       extra={**self.extra, **note}, extra_digits=self.extra_digits + len(x))


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir if given, else $MNIST_ROOT, else ./data (downloaded on first use)."""
    return Path(data_dir or os.environ.get("MNIST_ROOT") or DEFAULT_ROOT)


def load_mnist(data_dir: str | os.PathLike | None = None, valid_size: int = 5000, seed: int = 0) -> MnistSplits:
    """Read MNIST (downloading it if absent) and split the 60,000 training digits into train and
    valid by a seeded permutation; the 10,000 test digits are kept apart for the final score."""
    root = data_root(data_dir)
    raw = [root / "MNIST" / "raw" / name for name in RAW_FILES]
    mnist = cached(cache_dir(root) / "mnist.pt", raw, lambda: _read_raw(root))
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(mnist["train_x"]), generator=generator)
    valid_idx, train_idx = order[:valid_size], order[valid_size:]
    return MnistSplits(mnist["train_x"][train_idx], mnist["train_y"][train_idx],
                       mnist["train_x"][valid_idx], mnist["train_y"][valid_idx], mnist["test_x"], mnist["test_y"])


def cache_dir(root: Path) -> Path:
    """Where MNIST as tensors and the style copies made from the MNIST in `root` are kept (train.cache):
    $TENSOR_CACHE, else ./data/cache, in a folder named after `root`; never inside `root`, which may be
    shared or read-only."""
    key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]
    return Path(os.environ.get("TENSOR_CACHE") or DEFAULT_ROOT / "cache") / f"mnist-{key}"


def _read_raw(root: Path) -> dict[str, torch.Tensor]:
    from torchvision.datasets import MNIST   # imported here: slow to import, and only needed without the cache

    try:
        train = MNIST(root, train=True, download=not _have_raw(root))
        test = MNIST(root, train=False, download=False)
    except Exception as e:   # torchvision raises URLError, RuntimeError, OSError... all mean the same here
        raise DataError(f"MNIST could not be read from or downloaded into {root.resolve()}/MNIST/raw/ "
                        f"(expected {', '.join(RAW_FILES)}); set MNIST_ROOT or --data-dir to a folder "
                        f"holding MNIST/raw/. Cause: {type(e).__name__}: {e}") from None
    return {"train_x": train.data, "train_y": train.targets, "test_x": test.data, "test_y": test.targets}


def mnist_present(data_dir: str | os.PathLike | None = None) -> bool:
    """Whether MNIST's four files are where load_mnist(data_dir) reads them, so reading needs no download."""
    return _have_raw(data_root(data_dir))


def _have_raw(root: Path) -> bool:
    return all((root / "MNIST" / "raw" / name).is_file() for name in RAW_FILES)


def pen_renders(digits: list[PenDigit], renders: int = PEN_RENDERS,
                seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Real pen digits drawn the way the app receives them, as training data: each digit is drawn
    `renders` times on a canvas with random size, position and brush, then passed through the app's
    own preprocessing; every second drawing first moves, turns and bends its strokes a little
    (perturb_strokes). Returns (x uint8 (N, 28, 28), y int64 (N,), a note for the checkpoint).

    MNIST's writers hardly write slashed zeros, crossed sevens or flagged ones; these digits do. The
    random settings span the sizes and brushes people use, without copying any benchmark grid. The
    varied strokes stand in for writers the file does not have; drawing each digit more often
    without varying it does not (docs/results.md: Accuracy on real pen digits)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for digit in digits:
        for r in range(renders):
            drawn = perturb_strokes(digit, rng) if r % 2 else digit
            ink = render_ink(drawn, canvas=400, height=rng.uniform(0.2, 0.9), brush=rng.uniform(2, 30),
                             seed=int(rng.integers(1 << 30)))
            xs.append(to_mnist(ink))
            ys.append(digit.label)
    groups = sorted({d.writer_group for d in digits})
    note = {"pen_digits": {"digits": len(digits), "renders": renders, "varied_strokes": renders // 2,
                           "writer_groups": groups, "writers": len({d.writer for d in digits})}}
    return torch.from_numpy(np.stack(xs)), torch.tensor(ys, dtype=torch.int64), note
