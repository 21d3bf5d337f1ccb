"""What a hostile visitor or a careless person puts in front of the app, as real files: damaged images
in formats PIL can decode but the app does not accept, and runs-folder files that once stopped it from
starting. Also the two meters the attack tests read: a process's resident memory and a folder's size."""
from __future__ import annotations

import io
import json
import os
import struct
import threading
import time
from pathlib import Path
from typing import Callable

from PIL import Image
from safetensors.torch import save_file

from mnist_model import MLP
from mnist_model.checkpoint import FORMAT
from webapp.guards.upload_guard import folder_bytes


def spider_without_stack_offset() -> bytes:
    """A SPIDER image whose header claims to be one image of a stack (image number 1, no stack): PIL's
    reader then looks up an attribute it never set (AttributeError)."""
    out = io.BytesIO()
    Image.new("F", (40, 40)).save(out, format="SPIDER")
    data = bytearray(out.getvalue())
    data[104:108] = struct.pack("<f", 1.0)      # header word 27 (little-endian, as PIL writes it): image number
    return bytes(data)


DAMAGED_IMAGES = {
    # A QOI header with no pixels after it: IndexError in PIL's decoder.
    "qoi": bytes.fromhex("716f696600000028000000280401"),
    "spider": spider_without_stack_offset(),
    # A BLP2 header naming an encoding that does not exist: PIL's BLPFormatError.
    "blp": b"BLP2" + struct.pack("<I", 1) + bytes([9, 8, 0, 0]) + struct.pack("<II", 40, 40) + bytes(16 * 4 * 2 + 1024),
}


def _checkpoint_with_info(path: Path, info: str) -> None:
    tensors = {k: v.contiguous() for k, v in MLP().state_dict().items()}
    save_file(tensors, str(path), metadata={"format": FORMAT, "format_version": "1", "info": info})


def write_hostile_runs(folder: Path) -> list[str]:
    """Files in the runs folder that each once stopped `python app.py` at start-up, and one that made
    every pick allocate gigabytes. Returns their names."""
    os.symlink(folder / "nowhere.safetensors", folder / "dangling.safetensors")
    good = {"mean": 0.1307, "std": 0.3081, "model_config": {"in_features": 784, "hidden": [200, 150, 100, 80],
                                                             "n_classes": 10}}
    _checkpoint_with_info(folder / "history.safetensors", json.dumps({**good, "history": 5, "test_accuracy": "x"}))
    _checkpoint_with_info(folder / "nested.safetensors", "[" * 100_000 + "]" * 100_000)
    huge = {**good, "model_config": {"in_features": 784, "hidden": [1_000_000], "n_classes": 10}}
    _checkpoint_with_info(folder / "huge.safetensors", json.dumps(huge))
    return ["dangling.safetensors", "history.safetensors", "nested.safetensors", "huge.safetensors"]


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` now, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def tree_mb(folder: Path) -> float:
    """Total size of the files under `folder`, in MB, as the server's cache quota counts it."""
    return folder_bytes(str(folder)) / 1e6


def open_files(pid: int) -> int:
    """How many file descriptors `pid` holds open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


class Peak:
    """The highest value `read()` gives while the block runs, sampled every 20 ms (a reading that fails,
    such as a descriptor closed while /proc listed it, keeps the peak so far)."""

    def __init__(self, read: Callable[[], float]):
        self.read, self._done = read, threading.Event()

    def __enter__(self) -> "Peak":
        self.before = self.peak = self.read()
        self._thread = threading.Thread(target=self._sample)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            try:
                self.peak = max(self.peak, self.read())
            except OSError:
                pass

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self.read())


def steady_rss(pid: int, within_mb: float = 2.0, still_s: float = 1.0, timeout: float = 90.0) -> float:
    """`pid`'s resident memory once it has stayed within `within_mb` for `still_s` seconds: a server just
    started still reads MNIST and imports on its warm-up threads, growth no request of a test caused."""
    window: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        window = [*window, rss_mb(pid)][-int(still_s / 0.1) - 1:]
        if len(window) > still_s / 0.1 and max(window) - min(window) < within_mb:
            break
        time.sleep(0.1)
    return window[-1]


class PeakRss(Peak):
    """The highest resident memory of `pid` while the block runs, in MB, from its steady memory before."""

    def __init__(self, pid: int):
        super().__init__(lambda: rss_mb(pid))
        self.pid = pid

    def __enter__(self) -> "PeakRss":
        steady_rss(self.pid)
        super().__enter__()
        return self

    @property
    def growth(self) -> float:
        return self.peak - self.before
