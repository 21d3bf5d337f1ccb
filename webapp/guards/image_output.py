"""An output image that concurrent answers cannot tear.

Gradio's gr.Image writes a returned array into its cache folder under a name made from the content's
hash, with Path.write_bytes: the file is truncated, then written. Two visitors who draw the same thing
get the same file, and one answer's rewrite truncates the file while the other's browser downloads it:
the download ends early or comes back empty (docs/results.md: Serving under load). AtomicImage writes
each image to a temporary file beside it and renames that into place, so a reader sees either the old
file whole or the new one whole, and identical content still shares one file on disk."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
from gradio.processing_utils import encode_pil_to_bytes, hash_bytes
from PIL import Image


class AtomicImage(gr.Image):
    """gr.Image whose array and PIL outputs are written to the cache atomically (temp file, rename)."""

    # No __init__ of its own: Gradio reads a component's page props from its __init__'s signature.

    def get_block_name(self) -> str:
        return "image"      # drawn by gr.Image's frontend (see Sketchpad.get_block_name)

    def postprocess(self, value):
        if isinstance(value, np.ndarray):
            value = Image.fromarray(value)
        if isinstance(value, Image.Image):
            value = write_atomically(encode_pil_to_bytes(value, self.format), self.GRADIO_CACHE,
                                     f"image.{self.format}")
        return super().postprocess(value)


def write_atomically(data: bytes, cache_dir: str, name: str) -> str:
    """`data` at cache_dir/<hash of data>/name, replaced whole (a fresh file each time, so the cache's
    age-based cleanup counts from this answer); returns its path."""
    folder = Path(cache_dir) / hash_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)
    fd, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(staging, folder / name)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str((folder / name).resolve())
