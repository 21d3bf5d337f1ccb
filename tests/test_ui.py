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
