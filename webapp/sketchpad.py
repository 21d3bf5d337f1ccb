"""The drawing pad, hardened for a public server: a part of the sketch value that is not an image,
is damaged, or has more pixels than MAX_PIXELS is refused with a message the visitor can read,
before Gradio decodes it. Without this, Gradio's own decoding fails with a hidden stack trace, and
a 10,000 x 10,000 PNG of blank paper (120 kB on the wire) costs ~1 GB and 4 s to decode."""
from __future__ import annotations

from io import BytesIO

import gradio as gr
from gradio.data_classes import FileData
from PIL import Image

MAX_PIXELS = 4096 * 4096    # a 16-megapixel photo fits; the pad itself sends 448 x 448


class Sketchpad(gr.Sketchpad):
    """gr.Sketchpad that checks each uploaded image's header before decoding it."""

    def get_block_name(self) -> str:
        # Gradio names a template's frontend after the template's parent; this subclass's parent is
        # gr.Sketchpad, which has no frontend of its own. The pad is drawn by ImageEditor's.
        return "imageeditor"

    def convert_and_format_image(self, file: FileData | bytes | None, flatten_on_white: bool = False):
        if file is None:
            return None
        source = file.path if isinstance(file, FileData) else BytesIO(file)
        try:
            with Image.open(source) as header:
                width, height = header.size                 # Image.open reads the header, not the pixels
            if width * height <= MAX_PIXELS:
                return super().convert_and_format_image(file, flatten_on_white)
        # PIL reports unreadable and damaged files with all of these (a bad PNG chunk is a SyntaxError).
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as e:
            detail = str(e).replace(str(source), "the upload")[:160]     # no server paths in the message
            raise gr.Error(f"The drawing could not be read as an image ({type(e).__name__}: {detail}). "
                           f"Draw on the pad, or send a PNG or JPEG file.") from None
        raise gr.Error(f"The image is {width} x {height} pixels; this server reads drawings of up to "
                       f"{MAX_PIXELS / 1e6:.1f} megapixels. Send a smaller image.")
