"""Tensors kept on disk so that a fresh process (a server just started, a Space woken from sleep) need
not make them again: MNIST as uint8 tensors (read without importing torchvision) and the style copies.
Each file lives in the project's cache folder (train.data.cache_dir), is read back with
torch.load(weights_only=True), which runs no code, and is made again when missing, unreadable or older
than what it was made from. Best effort: where the folder cannot be written
the tensors are simply made each time."""
from __future__ import annotations

import hashlib
import io
from contextlib import suppress
from pathlib import Path
from typing import Callable

import torch

from mnist_model import write_atomic


def cached(path: Path, sources: list[Path], make: Callable[[], dict]) -> dict:
    """The dict of tensors (and plain values) saved at `path`, or `make()` saved there first when the file
    is missing, unreadable or older than any of `sources` that exist."""
    try:
        made = path.stat().st_mtime
        if all(not s.exists() or s.stat().st_mtime <= made for s in sources):
            return torch.load(path, weights_only=True)
    except Exception:      # missing (OSError) or damaged (whatever unpickling raised): made again below
        pass
    value = make()
    data = io.BytesIO()
    torch.save(value, data)
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data.getvalue())     # readers see the old file or the whole new one
    return value


def fingerprint(*tensors: torch.Tensor) -> str:
    """A short hash of the tensors' bytes: names a cache file after exactly the data it was made from."""
    digest = hashlib.sha1()
    for t in tensors:
        digest.update(t.contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def kept_style_variants(folder: Path, x: torch.Tensor, y: torch.Tensor, fraction: float,
                        seed: int) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """train.styles.style_variants, kept in `folder` under a name made from its arguments and remade when
    the code that draws them is newer than the file."""
    from mnist_model import preprocess

    from . import styles

    def draw() -> dict:
        return dict(zip(("x", "y", "note"), styles.style_variants(x, y, fraction, seed)))

    made = cached(folder / f"styles-{fraction:g}-{seed}-{fingerprint(x, y)}.pt",
                  [Path(styles.__file__), Path(preprocess.__file__)], draw)
    return made["x"], made["y"], made["note"]
