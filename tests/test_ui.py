"""The built page (webapp.ui.build), read in process: what it tells visitors."""
from __future__ import annotations

from webapp.ui import build


def page_texts(monkeypatch, space_id: str | None) -> str:
    if space_id is None:
        monkeypatch.delenv("SPACE_ID", raising=False)
    else:
        monkeypatch.setenv("SPACE_ID", space_id)
    page = build().blocks.get_config_file()
    return " ".join(str(c.get("props", {}).get("value")) for c in page["components"])


def test_a_space_tells_visitors_what_persists(monkeypatch):
    assert "only the shipped model persists" in page_texts(monkeypatch, "someone/draw-a-digit")
    assert "only the shipped model persists" not in page_texts(monkeypatch, None)


def components(monkeypatch, **env: str) -> list[dict]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return [c.get("props", {}) for c in build().blocks.get_config_file()["components"]]


def test_the_train_tab_offers_the_corrected_drawings_with_their_count(monkeypatch, tmp_path, pen_digits_path):
    from train.pen_digits import load_pen_digits, render_sketchpad
    from webapp.feedback import FeedbackStore
    store = FeedbackStore(tmp_path)
    for i, digit in enumerate(load_pen_digits(pen_digits_path)[:3]):
        store.add(render_sketchpad(digit, canvas=448, seed=i), digit.label, predicted=None, model="default",
                  session="s")
    labels = [p.get("label") for p in components(monkeypatch, FEEDBACK_DIR=str(tmp_path))]
    assert "Include the corrected drawings (3)" in labels and "Wrong? It was:" in labels
    empty = [p for p in components(monkeypatch, FEEDBACK_DIR=str(tmp_path / "none"))
             if str(p.get("label")).startswith("Include the corrected")]
    assert empty[0]["label"].endswith("(0)") and empty[0]["interactive"] is False


def test_a_server_that_keeps_no_drawings_offers_no_correction(monkeypatch, tmp_path):
    props = components(monkeypatch, FEEDBACK_DIR=str(tmp_path), FEEDBACK_MAX_ITEMS="0")
    row = next(p for p in props if p.get("elem_id") == "correct")
    note = next(p for p in props if "Nothing is kept unless you click" in str(p.get("value")))
    assert row["visible"] is False and note["visible"] is False
    shown = components(monkeypatch, FEEDBACK_MAX_ITEMS="10")
    assert next(p for p in shown if p.get("elem_id") == "correct")["visible"] is True
