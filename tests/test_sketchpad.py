"""The pad's blob store (webapp.guards.sketchpad.Sketchpad.accept_blobs), in process with real requests: what
one client may hold is capped without touching another's, what no prediction asks for is freed on a
timer, and a prediction reads and frees its sketch. (Over HTTP, with the server's memory measured:
tests/test_hostile_http.py.)"""
from __future__ import annotations

import io
import time

import gradio as gr
import numpy as np
import pytest
from fastapi import HTTPException
from gradio.components.image_editor import EditorData
from gradio.data_classes import DataWithFiles
from PIL import Image
from starlette.requests import Request

from webapp.guards import sketchpad
from webapp.guards.limits import BLOB_CLIENT_IDS, MAX_SKETCH_LAYERS


def request_from(host: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/gradio_api/component_server", "headers": [],
                    "client": (host, 1234), "query_string": b""})


def post(pad, host: str, blob_id: str, blob: bytes, kind: str = "layer", index: str | None = "0") -> None:
    pad.accept_blobs(DataWithFiles(data={"id": blob_id, "type": kind, "index": index}, files=[("f.png", blob)]),
                     request_from(host))


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 0, 0, 0)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def pad():
    return sketchpad.Sketchpad()


@pytest.mark.parametrize("index", ["20000000", str(MAX_SKETCH_LAYERS), "-1", "1e9", None, "null"])
def test_layer_indices_outside_the_pads_layers_are_refused(pad, index):
    with pytest.raises(HTTPException) as refused:
        post(pad, "1.1.1.1", "a", b"", index=index)
    assert refused.value.status_code == 400 and pad.blob_storage == {}


def test_one_clients_waiting_sketches_are_capped_and_another_client_is_unaffected(pad):
    for i in range(BLOB_CLIENT_IDS):
        post(pad, "1.1.1.1", f"id-{i}", b"")
    with pytest.raises(HTTPException) as refused:
        post(pad, "1.1.1.1", "one-more", b"")
    assert refused.value.status_code == 429
    post(pad, "2.2.2.2", "someone-else", b"")
    with pytest.raises(HTTPException) as taken:         # nor can one client write into another's sketch
        post(pad, "1.1.1.1", "someone-else", b"x", kind="background", index=None)
    assert taken.value.status_code == 409 and pad.blob_storage["someone-else"].background is None


def test_one_clients_bytes_are_capped(pad, monkeypatch):
    monkeypatch.setattr(sketchpad, "BLOB_CLIENT_MB", 1.0)
    post(pad, "1.1.1.1", "a", bytes(600_000))
    with pytest.raises(HTTPException, match="waiting"):
        post(pad, "1.1.1.1", "b", bytes(600_000))
    post(pad, "2.2.2.2", "c", bytes(600_000))


def test_blobs_no_prediction_asks_for_are_freed_on_a_timer(monkeypatch):
    monkeypatch.setattr(sketchpad, "BLOB_TTL", 0.2)
    pad = sketchpad.Sketchpad()
    post(pad, "1.1.1.1", "forgotten", bytes(1000))
    assert "forgotten" in pad.blob_storage
    deadline = time.monotonic() + 5
    while "forgotten" in pad.blob_storage and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pad.blob_storage == {}


def test_a_prediction_reads_its_sketch_and_frees_it(pad):
    layer = np.zeros((40, 40, 4), np.uint8)
    layer[10:30, 18:22] = (0, 0, 0, 255)
    out = io.BytesIO()
    Image.fromarray(layer).save(out, format="PNG")
    post(pad, "1.1.1.1", "sketch", out.getvalue())
    post(pad, "1.1.1.1", "sketch", png(40, 40), kind="background", index=None)
    value = pad.preprocess(EditorData(id="sketch"))
    np.testing.assert_array_equal(value["layers"][0], layer)
    assert pad.blob_storage == {} and pad._blob_owner == {}


def test_a_sketch_of_too_many_pixels_is_refused_before_decoding(pad):
    big = png(4096, 4096)
    post(pad, "1.1.1.1", "big", big, kind="background", index=None)
    post(pad, "1.1.1.1", "big", big, kind="composite", index=None)
    post(pad, "1.1.1.1", "big", png(448, 448))
    with pytest.raises(Exception, match="megapixels in all"):
        pad.preprocess(EditorData(id="big"))
    assert pad.blob_storage == {}


def test_the_page_gets_the_same_props_as_gradios_own_pad():
    # Gradio reads a component's props from its __init__'s signature: an __init__ of the subclass's own
    # once left the page without them and the pad was never drawn.
    args = dict(canvas_size=(448, 448), layers=False, transforms=(), label="Draw one digit here")
    ours, gradios = sketchpad.Sketchpad(**args).get_config(), gr.Sketchpad(**args).get_config()
    assert {k: v for k, v in ours.items() if k != "name"} == {k: v for k, v in gradios.items() if k != "name"}
