"""EXIF orientation: a photo is read upright, as its camera meant it, by the library and by the running
app; `upright` turns an array exactly as PIL's exif_transpose turns the image (the reference)."""
from __future__ import annotations

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageOps

from harness.app_driver import serve_app
from mnist_model import DigitRecognizer
from mnist_model.preprocess import upright


def tagged(a: np.ndarray, orientation: int) -> Image.Image:
    image = Image.fromarray(a)
    exif = image.getexif()
    exif[274] = orientation
    image.info["exif"] = exif.tobytes()
    return image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_upright_turns_an_array_as_pil_turns_the_image(orientation, tmp_path):
    a = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    tagged(a, orientation).save(tmp_path / "t.png", exif=tagged(a, orientation).getexif())
    with Image.open(tmp_path / "t.png") as f:
        expected = np.asarray(ImageOps.exif_transpose(f))
    np.testing.assert_array_equal(upright(a, orientation), expected)


def seven_upside_down(path) -> str:
    """A pen-like 7 (thick strokes on white), saved rotated 180 degrees with EXIF orientation 3."""
    image = Image.new("L", (280, 280), 255)
    image.paste(0, (60, 50, 220, 80))           # the bar
    for y in range(80, 240):                     # the stem, leaning left as it falls
        x = 200 - (y - 80) * 90 // 160
        image.paste(0, (x - 15, y, x + 15, y + 1))
    flipped = image.rotate(180).convert("RGB")
    exif = flipped.getexif()
    exif[274] = 3
    flipped.save(path, format="JPEG", exif=exif.tobytes(), quality=95)
    return str(path)


def test_a_photo_with_exif_orientation_is_read_upright(tmp_path):
    photo = seven_upside_down(tmp_path / "seven.jpg")
    assert DigitRecognizer.load().predict(photo).label == 7
    with serve_app({"RUNS_DIR": str(tmp_path)}) as url:
        label, *_ = Client(url, verbose=False).predict(
            {"background": None, "layers": [], "composite": handle_file(photo)}, api_name="/predict")
    assert label["label"] == "7"
