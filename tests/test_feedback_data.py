"""A feedback folder as training data (train.feedback): every item is checked and a bad one is named
in the error before anything trains; the drawings reach the training split through the app's own
preprocessing; `python -m train --feedback DIR --pen-digits FILE` trains on both and the checkpoint
says so; `python -m train.feedback list|drop` shows and deletes items."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mnist_model import read_metadata, to_mnist
from tests.conftest import REPO
from train.feedback import FeedbackError, feedback_training, read_feedback
from train.pen_digits import load_pen_digits, render_ink


@pytest.fixture
def folder(tmp_path, pen_digits_path):
    """Five drawings written as the app writes them (grey PNG, ink on white) with a metadata line each."""
    root = tmp_path / "feedback"
    (root / "images").mkdir(parents=True)
    records = []
    for i, digit in enumerate(load_pen_digits(pen_digits_path)[:5]):
        Image.fromarray(255 - render_ink(digit, canvas=448, seed=i)).save(root / "images" / f"d{i}.png")
        records.append({"file_name": f"images/d{i}.png", "label": digit.label, "id": f"d{i}", "predicted": 0})
    write(root, records)
    return root


def write(root, records) -> None:
    (root / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def records(root) -> list[dict]:
    return [json.loads(line) for line in (root / "metadata.jsonl").read_text().splitlines()]


def test_items_become_training_digits_through_the_apps_preprocessing(folder):
    items = read_feedback(folder)
    x, y, note = feedback_training(items)
    assert x.dtype.is_floating_point is False and x.shape == (5, 28, 28)
    assert y.tolist() == [r["label"] for r in records(folder)]
    for item, image in zip(items, x.numpy()):
        np.testing.assert_array_equal(image, to_mnist(item.path))
    assert note == {"feedback": {"items": 5, "misread_by_the_app": sum(r["label"] != 0 for r in records(folder))}}


@pytest.mark.parametrize("change, expected", [
    (lambda r: r.update(label=10), "line 3: label must be a whole number 0-9, got 10"),
    (lambda r: r.update(label="4"), "line 3: label must be a whole number 0-9, got '4'"),
    (lambda r: r.update(label=True), "line 3: label must be a whole number 0-9"),
    (lambda r: r.pop("label"), "line 3: label must be a whole number 0-9, got None"),
    (lambda r: r.update(file_name="../outside.png"), "line 3: file_name '../outside.png' points outside"),
    (lambda r: r.update(file_name="/etc/passwd"), "line 3: file_name '/etc/passwd' points outside"),
    (lambda r: r.update(file_name="images/missing.png"), "line 3 (images/missing.png): no such file"),
    (lambda r: r.update(file_name=7), "line 3: file_name must be a path relative to"),
])
def test_a_bad_metadata_line_is_named(folder, change, expected):
    rs = records(folder)
    change(rs[2])
    write(folder, rs)
    with pytest.raises(FeedbackError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        read_feedback(folder)


@pytest.mark.parametrize("last", ['{"file_name": "images/d', "[1, 2]\n"])
def test_a_torn_or_foreign_line_is_named(folder, last):
    (folder / "metadata.jsonl").write_text((folder / "metadata.jsonl").read_text() + last)
    with pytest.raises(FeedbackError, match="line 6: not a JSON object"):
        read_feedback(folder)


def test_a_file_that_is_not_a_png_is_named(folder):
    Image.open(folder / "images" / "d1.png").convert("RGB").save(folder / "images" / "d1.jpg")
    rs = records(folder)
    rs[1]["file_name"] = "images/d1.jpg"
    write(folder, rs)
    with pytest.raises(FeedbackError, match=r"line 2 \(images/d1.jpg\): a JPEG file, not a PNG"):
        read_feedback(folder)
    (folder / "images" / "d3.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)   # a PNG in name only
    write(folder, records(folder)[:1] + [dict(records(folder)[0], file_name="images/d3.png")])
    with pytest.raises(FeedbackError, match=r"line 2 \(images/d3.png\): not a readable PNG"):
        read_feedback(folder)


def test_a_missing_folder_or_metadata_is_named(tmp_path):
    with pytest.raises(FeedbackError, match="no such folder"):
        read_feedback(tmp_path / "nowhere")
    (tmp_path / "images").mkdir()
    with pytest.raises(FeedbackError, match="no metadata.jsonl"):
        read_feedback(tmp_path)


def test_files_the_metadata_does_not_list_are_not_read(folder):
    (folder / "images" / "stray.png").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("anything")
    assert len(read_feedback(folder)) == 5


def test_one_folder_per_server_start_reads_as_one_dataset(folder, tmp_path):
    root = tmp_path / "pushed"
    root.mkdir()
    folder.rename(root / "start-1")
    assert [i.label for i in read_feedback(root)] == [r["label"] for r in records(root / "start-1")]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_cli_trains_on_feedback_and_pen_digits_together(folder, mnist_root, pen_digits_path, tmp_path):
    pens = tmp_path / "pens.jsonl.gz"
    with gzip.open(pen_digits_path, "rt") as f, gzip.open(pens, "wt") as out:
        out.writelines(line for _, line in zip(range(10), f))
    out = tmp_path / "run"
    done = run("train", "--feedback", str(folder), "--pen-digits", str(pens), "--pen-renders", "2", "--dry-run",
               "--data-dir", str(mnist_root), "--out", str(out))
    assert done.returncode == 0, done.stderr
    data = read_metadata(out / "mnist_mlp.safetensors")["data"]
    assert data["feedback"]["items"] == 5 and data["pen_digits"]["digits"] == 10
    assert data["train_digits"] >= 1024 + 5 + 10 * 2


def test_cli_refuses_a_bad_folder_before_training(folder, mnist_root, tmp_path):
    rs = records(folder)
    rs[3]["file_name"] = "../../secret.png"
    write(folder, rs)
    done = run("train", "--feedback", str(folder), "--dry-run", "--data-dir", str(mnist_root),
               "--out", str(tmp_path / "run"))
    assert done.returncode == 2 and "line 4: file_name '../../secret.png' points outside" in done.stderr
    assert not (tmp_path / "run").exists()


def test_reviewers_list_and_drop_items(folder):
    listing = run("train.feedback", "list", str(folder))
    assert listing.returncode == 0 and [line.split("\t")[0] for line in listing.stdout.splitlines()] == \
        [f"d{i}" for i in range(5)]
    assert "5 of 5 items" in listing.stderr
    misread = run("train.feedback", "list", str(folder), "--misread").stdout.splitlines()
    assert len(misread) == sum(r["label"] != 0 for r in records(folder))
    dropped = run("train.feedback", "drop", str(folder), "d1", "d3")
    assert dropped.returncode == 0 and "dropped 2" in dropped.stdout
    assert [r["id"] for r in records(folder)] == ["d0", "d2", "d4"]
    assert not (folder / "images" / "d1.png").exists() and (folder / "images" / "d2.png").exists()
    unknown = run("train.feedback", "drop", str(folder), "d0", "nope")
    assert unknown.returncode == 1 and "not found: nope" in unknown.stdout
    assert [r["id"] for r in records(folder)] == ["d2", "d4"]
