"""What one hostile client can cost the running app (`python app.py`), measured from outside: the
server's resident memory (peak, sampled every 20 ms), its open files (peak), its cache folder's size,
and whether an honest visitor's prediction, sent 0.5 s into each attack, is answered; for each attack
the server is hardened against and for the largest sketch the server still decodes. Quoted in
docs/results.md. All traffic goes to 127.0.0.1 (other 127.x source addresses stand for other clients).

    python -m bench.hostile_costs
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import httpx
from gradio_client import Client, handle_file
from PIL import Image

from bench.visitor import Caller
from harness.app_driver import serve_app_process
from harness.hostile import Peak, PeakRss, open_files, rss_mb, steady_rss, tree_mb, write_hostile_runs
from webapp.guards.limits import HEADER_SECONDS, SESSIONS_KEPT


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
    env = {"RUNS_DIR": str(runs), "GRADIO_TEMP_DIR": str(cache), "FEEDBACK_DIR": str(tmp / "feedback")}
    with serve_app_process(env, timeout=300) as (url, proc):
        print(f"started with 4 hostile files in RUNS_DIR in {time.monotonic() - start:.1f} s; "
              f"RSS {rss_mb(proc.pid):.0f} MB, {open_files(proc.pid)} open files")
        pad = pad_id(url)
        pen = {"background": None, "layers": [], "composite": handle_file(_digit_png(tmp))}

        def measure(name: str, attack) -> None:
            t = time.monotonic()
            honest: list[str] = []
            visitor = threading.Timer(0.5, lambda: honest.append(predict_status(url, pen)))
            with PeakRss(proc.pid) as rss, Peak(lambda: open_files(proc.pid)) as files:
                visitor.start()
                outcome = attack()
                visitor.join()
            rows.append((name, f"{rss.growth:+.0f}", str(files.peak), f"{time.monotonic() - t:.1f}", outcome,
                         honest[0] if honest else "-"))

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
        part_two(url, proc.pid, pen, cache, measure)
        measure("an ordinary prediction afterwards", lambda: predict_status(url, pen))
    print("| attack | server RSS peak, MB | open files, peak | s | outcome | honest visitor |\n"
          "| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def part_two(url: str, pid: int, pen: dict, cache: Path, measure) -> None:
    """The attacks on bodies, sockets, fetched URLs, closed routes, corrections."""
    host, port = url.split("//")[1].strip("/").split(":")

    def connect(source: str) -> socket.socket:
        return socket.create_connection((host, int(port)), timeout=30, source_address=(source, 0))

    def endless(mb: int):
        for _ in range(mb * 10):
            yield b" " * 100_000

    def json_body() -> str:
        return str(httpx.post(url + "gradio_api/queue/join", content=endless(200), timeout=120,
                              headers={"content-type": "application/json"}).status_code)
    measure("200 MB JSON body, chunked, to /queue/join", json_body)

    def chunked_upload() -> str:
        before, s = tree_mb(cache), connect("127.0.0.5")
        s.sendall(b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  b"Transfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n")
        sent = 0
        try:
            for _ in range(100):
                s.sendall(b"%x\r\n%s\r\n" % (1_000_000, b"x" * 1_000_000))
                sent += 1
        except OSError:
            pass
        s.close()
        return f"{sent} of 100 MB taken by the socket; cache {tree_mb(cache) - before:+.0f} MB"
    measure("100 MB chunked upload declaring Content-Length: 1", chunked_upload)

    def declared() -> str:
        held = []
        for i in range(40):
            s = connect(f"127.0.1.{i + 1}")
            s.sendall(b"POST /gradio_api/upload HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                      b"boundary=b\r\nContent-Length: 25000000\r\n\r\n")
            held.append(s)
        code = httpx.post(url + "gradio_api/upload", files={"files": ("a", b"a" * 1_000_000)}, timeout=60).status_code
        for s in held:
            s.close()
        return f"an honest 1 MB upload meanwhile: HTTP {code}"
    measure("40 clients declare 25 MB uploads and send nothing", declared)

    def slow_headers() -> str:
        held = []
        for _ in range(2000):
            try:
                s = connect("127.0.0.6")
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
                held.append(s)
            except OSError:
                break
        time.sleep(2)
        after_2s = open_files(pid)
        time.sleep(HEADER_SECONDS)
        after = open_files(pid)
        for s in held:
            s.close()
        return f"{len(held)} opened; server's open files {after_2s} after 2 s, {after} after {HEADER_SECONDS + 2:.0f} s"
    measure("2,000 connections from one address that never finish their headers", slow_headers)

    def fetch() -> str:
        remote = {"path": url + "config", "url": url + "config", "meta": {"_type": "gradio.FileData"}}
        return predict_status(url, {"background": None, "layers": [], "composite": remote})
    measure("a URL in place of the sketch's file", fetch)
    measure("10 MB to /process_recording; /deep_link",
            lambda: str([httpx.post(url + "gradio_api/process_recording", files={"f": ("a", b"a" * 10_000_000)},
                                    timeout=60).status_code,
                         httpx.get(url + "gradio_api/deep_link", params={"session_hash": "x"}).status_code]))

    def corrections() -> str:
        with open(pen["composite"]["path"], "rb") as f:
            path = httpx.post(url + "gradio_api/upload", files={"files": ("one.png", f.read())}).json()[0]
        sketch = {"background": None, "layers": [], "composite": {"path": path, "meta": {"_type": "gradio.FileData"}}}
        saved = 0
        for _ in range(150):
            caller = Caller(url)        # a new session for every call
            try:
                caller.call("/feedback", [sketch, 1])
                saved += 1
            except RuntimeError:        # the refusal, from the event stream
                pass
            caller.close()
        return f"{saved} of 150 saved"
    measure("150 corrections, a new session each, one address", corrections)

    def sessions() -> str:
        before = steady_rss(pid)
        for _ in range(2000):
            caller = Caller(url)        # a new session for every call
            caller.call("/stop", [])
            caller.close()
        return f"kept {steady_rss(pid) - before:+.0f} MB once they ended (SESSIONS_KEPT={SESSIONS_KEPT})"
    measure("2,000 calls over REST, a new session each", sessions)


def _digit_png(folder: Path) -> str:
    image = Image.new("L", (448, 448), 255)
    image.paste(0, (200, 100, 240, 350))     # a thick vertical bar: a "1"
    image.save(folder / "one.png")
    return str(folder / "one.png")


if __name__ == "__main__":
    main()
