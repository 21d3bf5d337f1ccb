"""A hostile visitor against the running app (`python app.py`), over HTTP as such a visitor would
come: what one client can make the server hold in memory or on disk is bounded (the server's resident
memory and its cache folder are measured here), damaged images and a runs folder full of hostile files
get a clear message or are left out, and after each attack an ordinary prediction still answers."""
from __future__ import annotations

import io
import json
import os
import urllib.request

import httpx
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from harness.app_driver import serve_app_process, still_serving
from harness.hostile import DAMAGED_IMAGES, PeakRss, tree_mb, write_hostile_runs
from webapp.draw import CANVAS
from webapp.training.form import train_args

HIDDEN = "Error"     # what Gradio shows for an exception it hides


@pytest.fixture(scope="module")
def server(mnist_root, tmp_path_factory):
    """The app with four hostile files in its runs folder and a cache folder of its own."""
    runs, cache = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("cache")
    write_hostile_runs(runs)
    env = {"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(runs), "GRADIO_TEMP_DIR": str(cache)}
    with serve_app_process(env) as (url, proc):
        yield url, proc, cache


def test_the_app_starts_and_serves_with_hostile_files_in_the_runs_folder(server, reference):
    url, _, _ = server
    with urllib.request.urlopen(url + "config") as response:
        config = json.load(response)
    [picker] = [c for c in config["components"] if c.get("type") == "dropdown"
                and "default" in [key for _, key in c["props"].get("choices") or []]]     # the model picker
    keys = [key for _, key in picker["props"]["choices"]]
    # history.safetensors holds good weights (metadata fields of the wrong types); the others are left out.
    assert keys == ["default", "runs/history.safetensors"]
    still_serving(Client(url, verbose=False), reference)


def test_an_upload_flood_from_one_client_is_bounded(server, reference):
    # Before the pad's posts below: they count against the same per-client allowance.
    url, _, cache = server
    before = tree_mb(cache)
    statuses = []
    for _ in range(40):
        try:
            statuses.append(httpx.post(url + "gradio_api/upload", files={"files": ("x.bin", os.urandom(10_000_000))},
                                       timeout=60).status_code)
        except httpx.TransportError:     # refused before the body was read: the connection may close mid-send
            statuses.append(None)
    grown = tree_mb(cache) - before
    assert statuses.count(200) >= 1 and statuses.count(200) < 40
    assert grown < 150, f"the cache grew by {grown:.0f} MB"
    still_serving(Client(url, verbose=False), reference)           # small uploads of an ordinary prediction still pass


def post_blob(url: str, blob: bytes, blob_id: str, kind: str = "layer", index: str = "0") -> httpx.Response:
    """Gradio's accept_blobs as the pad's page posts it; anyone can."""
    with urllib.request.urlopen(url + "config") as response:
        [pad] = [c["id"] for c in json.load(response)["components"] if c.get("type") == "imageeditor"]
    fields = {"component_id": str(pad), "session_hash": "attacker", "fn_name": "accept_blobs", "id": blob_id,
              "type": kind, "index": index}
    return httpx.post(url + "gradio_api/component_server", data=fields, files={"file": ("layer.png", blob)},
                      timeout=60)


def test_the_pads_blob_store_is_bounded(server, reference):
    url, proc, _ = server
    with PeakRss(proc.pid) as rss:
        # Gradio's own extended a list to the index sent: ~300 MB for two of these, kept for good.
        for blob_id in ("bomb-1", "bomb-2"):
            refused = post_blob(url, b"", blob_id, index="20000000")
            assert refused.status_code == 400 and "layer index" in refused.text
        too_big = post_blob(url, b"x" * 10_000_000, "big")
        assert too_big.status_code == 413 and "kB" in too_big.text
        statuses = [post_blob(url, os.urandom(1_900_000), f"fresh-{i}").status_code for i in range(20)]
    # Refused past BLOB_CLIENT_MB (16 MB) held, or earlier by the upload allowance the flood above drew on.
    assert 429 in statuses and set(statuses) <= {200, 429}
    assert rss.growth < 60, f"the server grew by {rss.growth:.0f} MB"
    still_serving(Client(url, verbose=False), reference)


@pytest.fixture(scope="module")
def blank_4096(tmp_path_factory):
    """A 4096 x 4096 transparent PNG: ~70 kB on the wire, 64 MB once decoded."""
    path = tmp_path_factory.mktemp("big") / "blank.png"
    Image.new("RGBA", (4096, 4096)).save(path)
    return path


@pytest.mark.parametrize("api", ["/predict", "/train"])
@pytest.mark.parametrize("n_layers, message", [(12, "12 layers"), (3, "megapixels in all")])
def test_many_large_layers_are_refused_before_decoding(server, reference, blank_4096, n_layers, message, api):
    url, proc, _ = server
    layer = handle_file(str(blank_4096))
    value = {"background": layer, "layers": [layer] * n_layers, "composite": layer}
    args = [value] if api == "/predict" else train_args({}, sketch=value)
    with PeakRss(proc.pid) as rss:
        with pytest.raises(Exception, match=message) as error:
            Client(url, verbose=False).predict(*args, api_name=api)
    assert HIDDEN != str(error.value)
    # Decoding these would take 200 MB and more (one 4096 x 4096 image alone, within the bounds, ~190 MB).
    assert rss.growth < 40, f"the server grew by {rss.growth:.0f} MB"
    still_serving(Client(url, verbose=False), reference)


def test_a_refused_sketch_is_told_in_the_callers_language(server, blank_4096, tmp_path):
    # Refused in the pad's preprocess, before any handler has read the request's language.
    url, _, _ = server
    ru = Client(url, verbose=False, headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.8"})
    layer = handle_file(str(blank_4096))
    with pytest.raises(Exception, match="В рисунке 12 слоёв; сервер читает не больше 4"):
        ru.predict(*train_args({}, sketch={"background": layer, "layers": [layer] * 12, "composite": layer}),
                   api_name="/train")
    path = tmp_path / "damaged.png"
    path.write_bytes(DAMAGED_IMAGES[sorted(DAMAGED_IMAGES)[0]])
    damaged = {"background": None, "layers": [], "composite": handle_file(str(path))}
    with pytest.raises(Exception, match="Рисунок не читается как изображение"):
        ru.predict(damaged, api_name="/predict")
    with pytest.raises(Exception, match="could not be read as an image"):
        Client(url, verbose=False).predict(damaged, api_name="/predict")      # the next caller: English


@pytest.mark.parametrize("name", sorted(DAMAGED_IMAGES))
def test_damaged_images_get_the_clear_message(server, reference, tmp_path, name):
    url, _, _ = server
    path = tmp_path / f"damaged.{name}"
    path.write_bytes(DAMAGED_IMAGES[name])
    with pytest.raises(Exception) as error:
        Client(url, verbose=False).predict({"background": None, "layers": [], "composite": handle_file(str(path))},
                                           api_name="/predict")
    assert "could not be read" in str(error.value) and "PNG, JPEG" in str(error.value)
    still_serving(Client(url, verbose=False), reference)


def test_the_cache_quota_refuses_uploads_from_any_number_of_clients(mnist_root, tmp_path, reference):
    # Behind a proxy that names the client (TRUST_FORWARDED=1), each request here is another visitor.
    cache = tmp_path / "cache"
    env = {"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(tmp_path / "runs"), "GRADIO_TEMP_DIR": str(cache),
           "TRUST_FORWARDED": "1", "CACHE_MAX_MB": "60"}
    with serve_app_process(env) as (url, _):
        refusals = []
        for i in range(12):
            response = httpx.post(url + "gradio_api/upload", headers={"X-Forwarded-For": f"10.0.0.{i}"},
                                  files={"files": ("x.bin", os.urandom(9_000_000))}, timeout=60)
            if response.status_code != 200:
                refusals.append((response.status_code, response.text))
        assert tree_mb(cache) < 60 + 10
        assert refusals and all(status == 507 and "upload space is full" in text for status, text in refusals)
        # Drawing still works: a prediction's own small uploads are refused too once the cache is full,
        # but the pad in the page posts its images to the blob store, not the cache.
        pad_layer = io.BytesIO()
        Image.new("RGBA", (CANVAS, CANVAS)).save(pad_layer, format="PNG")
        assert post_blob(url, pad_layer.getvalue(), "pad-1").status_code == 200
