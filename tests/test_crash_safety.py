"""A checkpoint being written when the process dies, or when the disk fills, never costs the
previous model and is never mistaken for a model."""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time

from mnist_model import MLP, load_checkpoint, save_checkpoint
from tests.conftest import REPO

WRITER = textwrap.dedent("""
    import sys, torch
    from mnist_model import MLP, save_checkpoint
    path, n = sys.argv[1], 0
    print("ready", flush=True)
    while True:   # rewrite the same checkpoint forever, each version tagged with its number
        n += 1
        torch.manual_seed(n)
        save_checkpoint(path, MLP(), {"mean": 0.13, "std": 0.31, "version": n})
""")


def test_sigkill_while_saving_never_breaks_the_checkpoint(tmp_path):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, MLP(), {"mean": 0.13, "std": 0.31, "version": 0})
    rng = random.Random(0)
    versions = []
    for _ in range(10):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.15))      # a save takes a few ms: this lands at random points in it
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _, info = load_checkpoint(path)          # the file at the path is always a whole checkpoint
        versions.append(info["version"])
        # Leftover temporaries exist only under names no loader or listing takes for a model.
        assert [p.name for p in tmp_path.glob("*.safetensors")] == ["model.safetensors"]
        assert all(p.name.startswith(".") and p.name.endswith(".tmp") for p in tmp_path.iterdir()
                   if p.name != "model.safetensors")
    assert max(versions) > 0, "the writer never got to replace the file: the test proved nothing"


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys, torch
    from mnist_model import MLP, save_checkpoint
    # A file-size limit makes writes fail exactly as a full disk does (EFBIG instead of ENOSPC).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    try:
        save_checkpoint(sys.argv[1], MLP(), {"mean": 0.13, "std": 0.31, "version": 2})
    except OSError as e:
        print("refused:", e.strerror)
""")


def test_full_disk_while_saving_keeps_the_old_model(tmp_path):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, MLP(), {"mean": 0.13, "std": 0.31, "version": 1})
    before = path.read_bytes()
    result = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.startswith("refused: File too large"), result.stdout + result.stderr
    assert path.read_bytes() == before and load_checkpoint(path)[1]["version"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"], "the partial temporary was removed"
