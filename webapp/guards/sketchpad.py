"""The drawing pad, hardened for a public server.

- Every image of a sketch is checked from its header before anything is decoded: a format a drawing
  or photo comes in (mnist_model.preprocess.FORMATS), at most MAX_PIXELS each, at most MAX_SKETCH_LAYERS
  layers and MAX_SKETCH_PIXELS in all: a small compressed file can decode to gigabytes.
- A file of a sketch is one the visitor uploaded: a URL in its place is refused, never fetched (Gradio
  would download it into its cache, outside the upload guard).
- The pad's blob store (Gradio's `accept_blobs`, which anyone can call) keeps at most MAX_BLOB_BYTES
  per image, layer indices under MAX_SKETCH_LAYERS, BLOB_CLIENT_MB / BLOB_SERVER_MB held and
  BLOB_CLIENT_IDS / BLOB_SERVER_IDS sketches waiting, and frees what no prediction asked for within
  BLOB_TTL. Gradio's own extends a list up to any index a visitor sends and keeps it for good.
Limits live in webapp.guards.limits (README: Limits on a public server)."""
from __future__ import annotations

import threading
import time
from io import BytesIO

import gradio as gr
import numpy as np
from fastapi import HTTPException
from gradio.components.base import server
from gradio_client.utils import is_http_url_like
from gradio.components.image_editor import EditorData, EditorDataBlobs
from gradio.data_classes import FileData
from PIL import Image

from mnist_model.preprocess import FORMATS, MAX_SIDE, upright

from ..i18n import CALLER_LANG, text
from .limits import (BLOB_CLIENT_IDS, BLOB_CLIENT_MB, BLOB_SERVER_IDS, BLOB_SERVER_MB, BLOB_TTL, MAX_BLOB_BYTES,
                     MAX_SKETCH_LAYERS, MAX_PIXELS, MAX_SKETCH_PIXELS)
from .upload_guard import client_key



class Sketchpad(gr.Sketchpad):
    """gr.Sketchpad whose values and blob uploads are bounded before anything is decoded or kept."""

    # No __init__ of its own: Gradio reads a component's page props from its __init__'s signature.
    _blob_lock = threading.Lock()       # guards blob_storage and _blob_owner of every pad
    _blob_owner: dict[str, tuple[str, float]]    # sketch id -> (client, when it expires); set on first use

    def _owners(self) -> dict[str, tuple[str, float]]:
        """This pad's _blob_owner, created with the thread that frees expired blobs. Call with _blob_lock."""
        if "_blob_owner" not in self.__dict__:
            self._blob_owner = {}
            threading.Thread(target=self._sweep_forever, name="sketchpad-blob-sweep", daemon=True).start()
        return self._blob_owner

    def get_block_name(self) -> str:
        # Gradio names a template's frontend after the template's parent; this subclass's parent is
        # gr.Sketchpad, which has no frontend of its own. The pad is drawn by ImageEditor's.
        return "imageeditor"

    # --- the sketch value -------------------------------------------------------------------------

    def preprocess(self, payload: EditorData | None):
        blob_id = payload.id if payload is not None else None
        try:
            if payload is not None:
                if blob_id is not None:
                    with self._blob_lock:
                        parts = self.blob_storage.get(blob_id)
                    parts = parts or EditorDataBlobs(background=None, layers=[], composite=None)
                else:
                    parts = payload
                self._check_sketch([parts.background, *parts.layers, parts.composite], len(parts.layers))
            return super().preprocess(payload)
        finally:        # read or refused, a posted sketch is freed
            if blob_id is not None:
                with self._blob_lock:
                    self.blob_storage.pop(blob_id, None)
                    self._owners().pop(blob_id, None)

    def _check_sketch(self, images: list, n_layers: int) -> None:
        if n_layers > MAX_SKETCH_LAYERS:
            raise gr.Error(said("sketch.layers", n=n_layers, most=MAX_SKETCH_LAYERS))
        total = 0
        for image in images:
            if image is not None:
                width, height = _header_size(image)
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise gr.Error(said("sketch.pixels", width=width, height=height, mp=MAX_PIXELS / 1e6,
                                        side=MAX_SIDE))
                total += width * height
        if total > MAX_SKETCH_PIXELS:
            raise gr.Error(said("sketch.total", mp=total / 1e6, most=MAX_SKETCH_PIXELS / 1e6))

    def convert_and_format_image(self, file: FileData | bytes | None, flatten_on_white: bool = False):
        try:
            image = super().convert_and_format_image(file, flatten_on_white)
            # Gradio's editor ignores EXIF orientation: a phone photo taken upside down was read so.
            return upright(image, _orientation(file)) if isinstance(image, np.ndarray) and file else image
        # The header was read in preprocess; decoding the pixels of a damaged file can still fail in
        # any way PIL's decoders can.
        except Exception as e:      # noqa: BLE001
            raise gr.Error(said("sketch.unreadable", detail=type(e).__name__)) from None

    # --- no fetching for the visitor -------------------------------------------------------------

    def move_resource_to_block_cache(self, url_or_file_path):
        _refuse_url(url_or_file_path)
        return super().move_resource_to_block_cache(url_or_file_path)

    async def async_move_resource_to_block_cache(self, url_or_file_path):
        _refuse_url(url_or_file_path)
        return await super().async_move_resource_to_block_cache(url_or_file_path)

    # --- the blob store ---------------------------------------------------------------------------

    @server
    def accept_blobs(self, data, request: gr.Request):
        """One image of a sketch the pad posts before asking for a prediction of it (Gradio's format:
        form fields id, type "background" | "layer" | "composite", index of a layer; one file)."""
        fields, files = getattr(data, "data", None), getattr(data, "files", None)
        if not isinstance(fields, dict) or not isinstance(files, list) or len(files) != 1:
            raise HTTPException(400, "Send one image with the fields id, type and index.")
        kind, blob_id, blob = fields.get("type"), fields.get("id"), files[0][1]
        good_id = isinstance(blob_id, str) and 0 < len(blob_id) <= 64
        if kind not in ("background", "layer", "composite") or not good_id:
            raise HTTPException(400, "type must be background, layer or composite, and id a string of 1-64 "
                                     "characters.")
        index = None
        if kind == "layer":
            try:
                index = int(fields.get("index"))
            except (TypeError, ValueError):
                index = -1
            if not 0 <= index < MAX_SKETCH_LAYERS:
                raise HTTPException(400, f"A layer index is a whole number from 0 to {MAX_SKETCH_LAYERS - 1}.")
        if len(blob) > MAX_BLOB_BYTES:
            raise HTTPException(413, f"An image of the drawing may have up to {MAX_BLOB_BYTES // 1024} kB.")
        client = client_key(request.headers, request.client.host if request.client else "")
        with self._blob_lock:
            self._expire(time.monotonic())
            current = self.blob_storage.get(blob_id)
            owner = self._owners().get(blob_id)
            if current is not None and owner is not None and owner[0] != client:
                raise HTTPException(409, "This drawing id is in use; send a fresh one.")
            if current is None:
                ids = [c for c, _ in self._blob_owner.values()]
                if ids.count(client) >= BLOB_CLIENT_IDS or len(ids) >= BLOB_SERVER_IDS:
                    raise HTTPException(429, "Too many drawings are waiting for a prediction; try again shortly.")
                current = EditorDataBlobs(background=None, layers=[], composite=None)
            held_client, held_server = self._held(client)
            if held_client + len(blob) > BLOB_CLIENT_MB * 1e6 or held_server + len(blob) > BLOB_SERVER_MB * 1e6:
                raise HTTPException(429, "Too many drawing images are waiting for a prediction; try again shortly.")
            if kind == "layer":
                current.layers.extend([None] * (index + 1 - len(current.layers)))
                current.layers[index] = blob
            else:
                setattr(current, kind, blob)
            self.blob_storage[blob_id] = current
            self._blob_owner[blob_id] = (client, time.monotonic() + BLOB_TTL)

    def _held(self, client: str) -> tuple[int, int]:
        """Bytes in the store for `client`, and for everyone."""
        mine = total = 0
        for blob_id, (owner, _) in self._blob_owner.items():
            parts = self.blob_storage.get(blob_id)
            size = sum(len(b) for b in (parts.background, parts.composite, *parts.layers) if b) if parts else 0
            total += size
            mine += size if owner == client else 0
        return mine, total

    def _expire(self, now: float) -> None:
        for blob_id in [i for i, (_, expires) in self._owners().items() if expires < now]:
            del self._blob_owner[blob_id]
            self.blob_storage.pop(blob_id, None)

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(BLOB_TTL / 4)
            with self._blob_lock:
                self._expire(time.monotonic())


def said(key: str, **values) -> str:
    """A refusal in the caller's language (webapp.i18n.CALLER_LANG)."""
    return text(CALLER_LANG.get(), key, **values)


def _refuse_url(path) -> None:
    if is_http_url_like(str(path or "")):
        raise gr.Error(said("sketch.url"))


def _orientation(image: FileData | bytes) -> int:
    """The EXIF orientation (1-8) in the image's header; 1 (upright) when it has none."""
    with Image.open(image.path if isinstance(image, FileData) else BytesIO(image), formats=FORMATS) as header:
        return header.getexif().get(274, 1)


def _header_size(image: FileData | bytes) -> tuple[int, int]:
    """(width, height) from the image's header (Image.open reads no pixels), or gr.Error."""
    source = image.path if isinstance(image, FileData) else BytesIO(image)
    try:
        with Image.open(source, formats=FORMATS) as header:
            return header.size
    except Exception as e:      # noqa: BLE001 - any failure of PIL's header parsers means "not an image"
        detail = str(e).replace(str(source), "the upload")[:160]     # no server paths in the message
        raise gr.Error(said("sketch.unreadable", detail=f"{type(e).__name__}: {detail}")) from None
