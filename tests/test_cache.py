"""train.cache: what a fresh process reads back instead of making again (MNIST as tensors, the style
copies) equals what it would have made, and is made again when missing, damaged or older than its sources."""
from __future__ import annotations

import os
import time

import torch

from train import load_mnist
from train.cache import cached, kept_style_variants
from train.data import RAW_FILES, cache_dir
from train.styles import style_variants


def test_a_kept_value_is_read_back_and_made_again_when_stale_or_damaged(tmp_path):
    path, source = tmp_path / "cache" / "value.pt", tmp_path / "source.txt"
    source.write_text("v1")
    calls = []

    def make() -> dict:
        calls.append(1)
        return {"x": torch.arange(len(calls) * 3)}

    assert cached(path, [source], make)["x"].tolist() == [0, 1, 2]
    assert cached(path, [source], make)["x"].tolist() == [0, 1, 2] and len(calls) == 1     # read back
    later = time.time() + 10
    os.utime(source, (later, later))                                                       # the source changed
    assert cached(path, [source], make)["x"].tolist() == list(range(6)) and len(calls) == 2
    path.write_bytes(b"not a tensor file")
    assert len(cached(path, [source], make)["x"]) == 9 and len(calls) == 3                # damaged: made again
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_a_folder_that_cannot_be_written_only_means_no_cache(tmp_path):
    blocker = tmp_path / "a file where the cache folder would be"
    blocker.write_text("")
    calls = []
    for _ in range(2):
        value = cached(blocker / "cache" / "value.pt", [], lambda: calls.append(1) or {"x": torch.ones(2)})
        assert value["x"].tolist() == [1, 1]
    assert len(calls) == 2 and sorted(p.name for p in tmp_path.iterdir()) == [blocker.name]


def test_mnist_read_back_from_its_tensor_file_equals_mnist_read_from_the_raw_files(mnist_root, tmp_path,
                                                                                   monkeypatch):
    root, kept = tmp_path / "mnist", tmp_path / "kept"
    monkeypatch.setenv("TENSOR_CACHE", str(kept))
    (root / "MNIST" / "raw").mkdir(parents=True)
    for name in RAW_FILES:
        (root / "MNIST" / "raw" / name).symlink_to((mnist_root / "MNIST" / "raw" / name).resolve())
    (root / "MNIST" / "raw").chmod(0o555)      # MNIST's folder may be read-only, or shared: nothing is written there
    first = load_mnist(root, seed=3)
    assert (cache_dir(root) / "mnist.pt").is_file() and cache_dir(root).parent == kept
    assert sorted(p.name for p in (root / "MNIST").iterdir()) == ["raw"]
    again = load_mnist(root, seed=3)
    for name in ("train_x", "train_y", "valid_x", "valid_y", "test_x", "test_y"):
        assert torch.equal(getattr(first, name), getattr(again, name)), name
    assert len(again.train_x) == 55_000 and len(again.test_x) == 10_000


def test_kept_style_copies_equal_freshly_drawn_ones_and_are_drawn_once(small_mnist, tmp_path):
    x, y = small_mnist.train_x[:400], small_mnist.train_y[:400]
    kept = kept_style_variants(tmp_path, x, y, 0.5, 0)
    files = list(tmp_path.glob("styles-*.pt"))
    fresh = style_variants(x, y, 0.5, 0)
    assert len(files) == 1 and torch.equal(kept[0], fresh[0]) and torch.equal(kept[1], fresh[1])
    assert kept[2] == fresh[2]
    stamp = files[0].stat().st_mtime_ns
    assert torch.equal(kept_style_variants(tmp_path, x, y, 0.5, 0)[0], fresh[0])
    assert files[0].stat().st_mtime_ns == stamp                                  # read, not drawn again
    kept_style_variants(tmp_path, x[:200], y[:200], 0.5, 0)                      # other digits: a file of their own
    assert len(list(tmp_path.glob("styles-*.pt"))) == 2
