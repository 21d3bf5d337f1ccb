"""The app's store of corrected drawings (webapp.draw.feedback) on real files: what it writes is read back
by a plain reader and by Hugging Face's imagefolder loader with the right labels; bad items and
visitors over the limits are refused and change nothing; threads and processes writing at once, a
writer killed with SIGKILL mid-stream and a reviewer dropping items meanwhile leave only whole items."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO
from train.feedback import METADATA, read_feedback
from train.feedback.folder import drop_items
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw.feedback import FeedbackLimits, FeedbackRefused, FeedbackStore
from webapp.draw.feedback_sync import open_store, sync_settings

OPEN = FeedbackLimits(per_minute=10_000, max_items=10_000, max_mb=100)


@pytest.fixture(scope="module")
def sketches(pen_digits_path):
    digits = load_pen_digits(pen_digits_path)[:6]
    return [(render_sketchpad(d, canvas=448, seed=i), d.label) for i, d in enumerate(digits)]


def blank() -> dict:
    white = np.full((448, 448, 4), 255, np.uint8)
    return {"background": white, "layers": [np.zeros_like(white)], "composite": white}


def lines(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / METADATA).read_text().splitlines()]


def test_a_stored_drawing_reads_back_with_its_label_and_the_apps_answer(tmp_path, sketches):
    store = FeedbackStore(tmp_path, OPEN)
    for value, label in sketches:
        assert "Saved as" in store.add(value, label, predicted=(label + 1) % 10, model="default", session="tab-1")
    items = read_feedback(tmp_path)
    assert [i.label for i in items] == [label for _, label in sketches]
    assert [i.record["predicted"] for i in items] == [(label + 1) % 10 for _, label in sketches]
    record = items[0].record
    assert record["file_name"] == f"images/{record['id']}.png" and record["model"] == "default"
    assert record["session"] != "tab-1" and len({i.record["session"] for i in items}) == 1   # anonymous, stable
    with Image.open(items[0].path) as image:                   # ink on white, as the pad drew it
        pixels = np.asarray(image.convert("L"))
    ink = 255 - sketches[0][0]["composite"][..., 0]
    assert image.size == (448, 448) and np.abs((255 - pixels).astype(int) - ink).max() <= 1


def test_the_imagefolder_loader_reads_the_folder(tmp_path, sketches):
    datasets = pytest.importorskip("datasets", reason="datasets is not installed (requirements-dev.txt)")
    store = FeedbackStore(tmp_path / "feedback", OPEN)
    for value, label in sketches:
        store.add(value, label, predicted=label, model="default", session="s")
    ds = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "feedback"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert sorted(ds["label"]) == sorted(label for _, label in sketches)
    assert ds[0]["image"].size == (448, 448) and "predicted" in ds.column_names


def test_large_drawings_are_stored_at_most_448_px(tmp_path, pen_digits_path):
    value = render_sketchpad(load_pen_digits(pen_digits_path)[0], canvas=1000)
    FeedbackStore(tmp_path, OPEN).add(value, 5, predicted=5, model="default", session="s")
    with Image.open(read_feedback(tmp_path)[0].path) as image:
        assert image.size == (448, 448)


@pytest.mark.parametrize("label", [10, -1, True, None, 2.5, "seven"])
def test_labels_outside_0_to_9_are_refused(tmp_path, sketches, label):
    with pytest.raises(FeedbackRefused, match="0 to 9"):
        FeedbackStore(tmp_path, OPEN).add(sketches[0][0], label, predicted=1, model="default", session="s")
    assert not (tmp_path / METADATA).exists() and not list((tmp_path / "images").iterdir())


def test_blank_drawings_are_refused(tmp_path):
    with pytest.raises(FeedbackRefused, match="empty"):
        FeedbackStore(tmp_path, OPEN).add(blank(), 3, predicted=None, model="default", session="s")
    assert not (tmp_path / METADATA).exists()


def test_rate_is_per_session_and_recovers(tmp_path, sketches, monkeypatch):
    store = FeedbackStore(tmp_path, FeedbackLimits(per_minute=3, max_items=100, max_mb=100))
    now = [1000.0]
    monkeypatch.setattr("webapp.draw.feedback.time.monotonic", lambda: now[0])
    value, label = sketches[0]
    for _ in range(3):
        store.add(value, label, predicted=label, model="default", session="busy")
    with pytest.raises(FeedbackRefused, match="3 drawings in a minute"):
        store.add(value, label, predicted=label, model="default", session="busy")
    store.add(value, label, predicted=label, model="default", session="another")     # others are not held up
    now[0] += 61
    store.add(value, label, predicted=label, model="default", session="busy")
    assert len(lines(tmp_path)) == 5


def test_a_full_store_refuses_new_items_until_a_reviewer_drops_some(tmp_path, sketches):
    store = FeedbackStore(tmp_path, FeedbackLimits(per_minute=100, max_items=3, max_mb=100))
    for value, label in sketches[:3]:
        store.add(value, label, predicted=label, model="default", session="s")
    with pytest.raises(FeedbackRefused, match="full"):
        store.add(*sketches[3], predicted=1, model="default", session="s")
    assert len(lines(tmp_path)) == 3 and len(list((tmp_path / "images").glob("*.png"))) == 3
    drop_items(tmp_path, {lines(tmp_path)[0]["id"]})
    store.add(*sketches[3], predicted=1, model="default", session="s")
    assert len(read_feedback(tmp_path)) == 3


def test_the_byte_cap_counts_what_is_already_there(tmp_path, sketches):
    FeedbackStore(tmp_path, OPEN).add(*sketches[0], predicted=1, model="default", session="s")
    used = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("."))
    reopened = FeedbackStore(tmp_path, FeedbackLimits(per_minute=100, max_items=100, max_mb=used * 1.2 / 1e6))
    with pytest.raises(FeedbackRefused, match="full"):
        reopened.add(*sketches[1], predicted=1, model="default", session="s")
    assert len(read_feedback(tmp_path)) == 1


WRITER = """
import sys
from train.pen_digits import load_pen_digits, render_sketchpad
from webapp.draw.feedback import FeedbackLimits, FeedbackStore
folder, count = sys.argv[1], int(sys.argv[2])
store = FeedbackStore(folder, FeedbackLimits(per_minute=10**9, max_items=10**9, max_mb=1e6))
digits = load_pen_digits()[:20]
for n in range(count):
    d = digits[n % len(digits)]
    store.add(render_sketchpad(d, canvas=448, seed=n), d.label, predicted=None, model="default", session=sys.argv[3])
    print(n, flush=True)
"""


def writer(folder, count: int, session: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(count), session], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)


def test_threads_and_processes_writing_at_once_lose_nothing(tmp_path, sketches):
    procs = [writer(tmp_path, 12, f"process-{i}") for i in range(2)]
    store = FeedbackStore(tmp_path, OPEN)

    def add_many(k: int) -> None:
        for n in range(6):
            value, label = sketches[(k + n) % len(sketches)]
            store.add(value, label, predicted=label, model="default", session=f"thread-{k}")

    threads = [threading.Thread(target=add_many, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p.wait(120) == 0 for p in procs)
    items = read_feedback(tmp_path)                  # every line whole JSON, every PNG present and decoding
    assert len(items) == 2 * 12 + 4 * 6 == len({i.id for i in items})
    assert len(list((tmp_path / "images").glob("*.png"))) == len(items)


def test_a_writer_killed_mid_stream_leaves_only_whole_items(tmp_path):
    written = 0
    for round_ in range(3):
        proc = writer(tmp_path, 10**6, f"killed-{round_}")
        for _ in range(3 + round_):                # let it write a few, then kill it wherever it is
            assert proc.stdout.readline()
        time.sleep(0.05 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        items = read_feedback(tmp_path)
        assert len(items) >= written + 3 + round_
        written = len(items)
    assert (tmp_path / METADATA).read_bytes().endswith(b"\n")
    listed = {i.path.name for i in items}
    on_disk = {p.name for p in (tmp_path / "images").glob("*.png")}
    assert listed <= on_disk and len(on_disk - listed) <= 3    # at most one unlisted PNG per kill, never the reverse


def test_a_reviewer_dropping_while_a_writer_appends_loses_no_new_item(tmp_path, sketches):
    store = FeedbackStore(tmp_path, OPEN)
    for value, label in sketches:
        store.add(value, label, predicted=label, model="default", session="s")
    doomed = {r["id"] for r in lines(tmp_path)}
    proc = writer(tmp_path, 15, "late")
    assert proc.stdout.readline()
    dropped = drop_items(tmp_path, doomed)
    assert proc.wait(120) == 0
    items = read_feedback(tmp_path)
    assert len(dropped) == len(sketches) and not doomed & {i.id for i in items}
    assert len(items) == 15 and not any((tmp_path / "images" / f"{i}.png").exists() for i in doomed)


def test_without_a_repo_and_a_token_corrections_stay_local(tmp_path):
    assert sync_settings({}) is None
    assert sync_settings({"FEEDBACK_REPO": "someone/digits"}) is None          # no token: nothing pushed
    settings = sync_settings({"FEEDBACK_REPO": "someone/digits", "HF_TOKEN": "hf_x", "FEEDBACK_DIR": str(tmp_path)})
    start = settings["path_in_repo"]
    assert settings["repo_id"] == "someone/digits" and settings["repo_type"] == "dataset"
    assert settings["folder_path"] == tmp_path / start and settings["token"] == "hf_x" and settings["every"] == 5
    assert sync_settings({"FEEDBACK_REPO": "someone/digits", "HF_TOKEN": "hf_x"})["path_in_repo"] != start


def test_a_hub_that_cannot_be_reached_leaves_a_working_local_store(tmp_path, sketches):
    from huggingface_hub import HfApi
    env = {"FEEDBACK_REPO": "someone/digits", "HF_TOKEN": "hf_x", "FEEDBACK_DIR": str(tmp_path)}
    store = open_store(env, hf_api=HfApi(endpoint="http://127.0.0.1:9", token="hf_x"))   # nothing listens on 9
    assert store.scheduler is None and store.folder.parent == tmp_path
    store.add(*sketches[0], predicted=1, model="default", session="s")
    assert len(read_feedback(tmp_path)) == 1                      # read through the per-start folder
