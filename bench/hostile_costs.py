"""What one hostile client can cost the running app (`python app.py`), measured from outside: the
server's resident memory (peak, sampled every 20 ms) and its cache folder's size, for each attack
the server is hardened against, and for the largest sketch the server still decodes. Quoted in docs/results.md.

    python -m bench.hostile_costs
"""
from __future__ import annotations

import json
import os
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import httpx
from gradio_client import Client, handle_file
from PIL import Image

from harness.app_driver import serve_app_process
from harness.hostile import PeakRss, rss_mb, tree_mb, write_hostile_runs


def pad_id(url: str) -> str:
    with urllib.request.urlopen(url + "config") as response:
        return str([c["id"] for c in json.load(response)["components"] if c.get("type") == "imageeditor"][0])


def post_blob(url: str, pad: str, blob: bytes, blob_id: str, index: str) -> int:
    fields = {"component_id": pad, "session_hash": "bench", "fn_name": "accept_blobs", "id": blob_id,
              "type": "layer", "index": index}
    return httpx.post(url + "gradio_api/component_server", data=fields, files={"file": ("l.png", blob)},
                      timeout=120).status_code


def predict_status(url: str, value: dict) -> str:
    try:
        Client(url, verbose=False).predict(value, api_name="/predict")
        return "answered"
    except Exception as e:      # noqa: BLE001 - the refusal's message is what is reported
        return "refused: " + str(e).splitlines()[-1][:70]


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    runs, cache = tmp / "runs", tmp / "cache"
    runs.mkdir()
    write_hostile_runs(runs)
    big = tmp / "blank4096.png"
    Image.new("RGBA", (4096, 4096)).save(big)
    rows = []
    start = time.monotonic()
    with serve_app_process({"RUNS_DIR": str(runs), "GRADIO_TEMP_DIR": str(cache)}, timeout=300) as (url, proc):
        print(f"started with 4 hostile files in RUNS_DIR in {time.monotonic() - start:.1f} s; "
              f"RSS {rss_mb(proc.pid):.0f} MB")
        pad = pad_id(url)

        def measure(name: str, attack) -> None:
            t = time.monotonic()
            with PeakRss(proc.pid) as rss:
                outcome = attack()
            rows.append((name, f"{rss.growth:+.0f}", f"{time.monotonic() - t:.1f}", outcome))

        before = tree_mb(cache)

        def flood() -> str:
            codes = []
            for _ in range(40):
                try:
                    codes.append(httpx.post(url + "gradio_api/upload", files={"files": ("x", os.urandom(10_000_000))},
                                            timeout=120).status_code)
                except httpx.TransportError:
                    codes.append(0)
            return f"{codes.count(200)} of 40 accepted; cache {tree_mb(cache) - before:+.0f} MB"
        # First: the pad's posts below count against the same per-client allowance.
        measure("40 x 10 MB /gradio_api/upload, one client", flood)

        measure("2 x accept_blobs, index=20000000",
                lambda: str([post_blob(url, pad, b"", f"bomb{i}", "20000000") for i in range(2)]))
        blobs = (lambda: Counter(post_blob(url, pad, os.urandom(1_900_000), f"f{i}", "0") for i in range(40)))
        measure("40 x accept_blobs, 1.9 MB, fresh ids", lambda: f"HTTP status: count {dict(blobs())}")
        layer = handle_file(str(big))
        for n in (12, 30):
            measure(f"/predict, 4096 x 4096 PNG as {n} layers",
                    lambda n=n: predict_status(url, {"background": layer, "layers": [layer] * n, "composite": layer}))
        measure("/predict, 4096 x 4096 background + composite",
                lambda: predict_status(url, {"background": layer, "layers": [], "composite": layer}))
        measure("/predict, 4096 x 4096 composite alone (the largest sketch decoded)",
                lambda: predict_status(url, {"background": None, "layers": [], "composite": layer}))
        pen = {"background": None, "layers": [], "composite": handle_file(_digit_png(tmp))}
        measure("an ordinary prediction afterwards", lambda: predict_status(url, pen))
    print("| attack | server RSS peak, MB | s | outcome |\n| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _digit_png(folder: Path) -> str:
    image = Image.new("L", (448, 448), 255)
    image.paste(0, (200, 100, 240, 350))     # a thick vertical bar: a "1"
    image.save(folder / "one.png")
    return str(folder / "one.png")


if __name__ == "__main__":
    main()
