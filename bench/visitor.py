"""One visitor of the running app over raw HTTP, for the benches: Gradio's documented API (upload files,
post the call, read its results from the event stream), with a sketch sent as the browser sends it."""
from __future__ import annotations

import io
import json
import secrets
from typing import Any, Iterator

import httpx
import numpy as np
from PIL import Image

REQUEST_TIMEOUT = 60.0     # s; a request slower than this counts as failed


class Caller:
    """One visitor over raw HTTP, as Gradio's documented curl API: upload files, post the call, read its
    results from the event stream. (gradio_client's own CPU work per call would, on a small machine,
    measure the client rather than the server: docs/results.md, Serving under load.)"""

    def __init__(self, url: str):
        self.http = httpx.Client(base_url=url + "gradio_api", timeout=REQUEST_TIMEOUT)
        # One session per caller, as one per browser tab. Without it every call is a new session, and
        # Gradio keeps only the newest 2000 sessions' message queues (insertion order): a long /train
        # stream's session is evicted after 2000 calls and its stream fails with "404: Not Found".
        self.session_hash = secrets.token_hex(8)

    def stream(self, endpoint: str, data: list) -> Iterator[tuple[str, Any]]:
        """("generating", outputs) for each streamed update, then ("complete", outputs); raises on an error."""
        posted = self.http.post(f"/call{endpoint}", json={"data": data, "session_hash": self.session_hash})
        posted.raise_for_status()
        kind = None
        with self.http.stream("GET", f"/call{endpoint}/{posted.json()['event_id']}") as events:
            for line in events.iter_lines():
                if line.startswith("event: "):
                    kind = line[len("event: "):]
                elif line.startswith("data: ") and kind in ("generating", "complete"):
                    yield kind, json.loads(line[len("data: "):])
                    if kind == "complete":
                        return
                elif line.startswith("data: ") and kind == "error":
                    raise RuntimeError(f"{endpoint} failed: {line[len('data: '):]}")
        raise RuntimeError(f"{endpoint}: the event stream ended without a result")

    def call(self, endpoint: str, data: list) -> list:
        return next(out for kind, out in self.stream(endpoint, data) if kind == "complete")

    def draw(self, endpoint: str, pngs: dict[str, bytes], *more) -> list:
        """/predict or /noop on a sketch given as its PNG files (background, layer, composite); `more`
        inputs after the sketch (/feedback's label)."""
        uploaded = self.http.post("/upload", files=[("files", (f"{k}.png", v, "image/png")) for k, v in pngs.items()])
        uploaded.raise_for_status()
        background, layer, composite = ({"path": path, "meta": {"_type": "gradio.FileData"}}
                                        for path in uploaded.json())
        return self.call(endpoint, [{"background": background, "layers": [layer], "composite": composite}, *more])

    def view(self, outputs: list) -> bytes:
        """The answer's 28 x 28 view (its third output), downloaded as the page does; b"" when it has none."""
        image = outputs[2]
        if not image:
            return b""
        got = self.http.get(image["url"])
        got.raise_for_status()
        return got.content

    def close(self) -> None:
        self.http.close()


def sketch_pngs(value: dict) -> dict[str, bytes]:
    """A numpy sketchpad value as the three PNG files the browser uploads for it."""
    def png(image: np.ndarray) -> bytes:
        out = io.BytesIO()
        Image.fromarray(image).save(out, format="png")
        return out.getvalue()
    return {"background": png(value["background"]), "layer": png(value["layers"][0]),
            "composite": png(value["composite"])}
