"""The built page (webapp.ui.build), read in process: what it tells visitors, and in which languages."""
from __future__ import annotations

import json
import string

import pytest

from webapp.i18n import I18N, LANGS, STRINGS, lang_of, text
from webapp.ui import build

I18N_PREFIX = "__i18n__"


def page_config(monkeypatch, space_id: str | None) -> dict:
    if space_id is None:
        monkeypatch.delenv("SPACE_ID", raising=False)
    else:
        monkeypatch.setenv("SPACE_ID", space_id)
    return build().blocks.get_config_file()


def english(value) -> str:
    """A text as an English visitor reads it: a translation key resolved, anything else as it is."""
    value = str(value)
    return text("en", json.loads(value[len(I18N_PREFIX):])["key"]) if value.startswith(I18N_PREFIX) else value


def page_texts(monkeypatch, space_id: str | None) -> str:
    return " ".join(english(c.get("props", {}).get("value")) for c in page_config(monkeypatch, space_id)["components"])


def test_a_space_tells_visitors_what_persists(monkeypatch):
    assert "only the shipped model persists" in page_texts(monkeypatch, "someone/draw-a-digit")
    assert "only the shipped model persists" not in page_texts(monkeypatch, None)


def test_every_label_tab_button_and_static_text_has_both_languages(monkeypatch):
    config = page_config(monkeypatch, "someone/draw-a-digit")
    shown = []
    for c in config["components"]:
        props = c.get("props", {})
        if props.get("label") is not None and props.get("show_label", True) is not False:
            shown.append(props["label"])
        if c["type"] in ("button", "markdown", "tabitem") and props.get("value"):
            shown.append(props["value"])
    keys = [json.loads(str(s)[len(I18N_PREFIX):])["key"] for s in shown if str(s).startswith(I18N_PREFIX)]
    untranslated = [s for s in shown if not str(s).startswith(I18N_PREFIX)]
    assert len(keys) >= 25 and not untranslated, untranslated
    translations = I18N.translations_dict          # what webapp.ui.launch gives the page
    for key in keys:
        assert all(translations[lang][key] for lang in LANGS)
        assert translations["ru"][key] != translations["en"][key], key


def test_russian_texts_are_russian_and_fill_the_same_blanks():
    def fields(template: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}

    for key, (en, ru) in STRINGS.items():
        assert fields(en) - {"article"} == fields(ru), key          # the same values (Russian has no articles)
        if key.startswith("lib."):
            assert en == "{detail}" and ru.endswith("{detail}"), key   # the library's own message is kept
        elif en.strip("{}") and key != "model.epoch1":
            assert any("а" <= ch.lower() <= "я" for ch in ru), key


def test_every_text_formats_in_both_languages_with_its_own_fields():
    for key, (en, _) in STRINGS.items():
        fields = {name for _, name, _, _ in string.Formatter().parse(en) if name}
        values = {name: 0.5 for name in fields}                 # numbers fit every format spec used
        for lang in LANGS:
            assert "{" not in text(lang, key, **values), (key, lang)


class Request:
    """What lang_of reads from gr.Request: its headers."""
    def __init__(self, accept_language: str | None):
        self.headers = {} if accept_language is None else {"accept-language": accept_language}


@pytest.mark.parametrize("header, lang", [
    ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),   # Chrome in Russian
    ("en-US,en;q=0.9,ru;q=0.8", "en"),
    ("de-DE,de;q=0.9,ru;q=0.8,en;q=0.5", "ru"),      # the best language we have, by the visitor's ranking
    ("fr-FR,fr;q=0.9", "en"),                        # none we have: the fallback
    ("RU", "ru"),
    ("en;q=0.1, ru;q=0.5", "ru"),
    ("ru;q=abc, en", "en"),                          # a malformed weight is skipped
    ("", "en"),
    (None, "en"),                                    # gradio_client sends none
])
def test_the_visitors_language_comes_from_accept_language(header, lang):
    assert lang_of(Request(header)) == lang
    assert lang_of(None) == "en"


def components(monkeypatch, **env: str) -> list[dict]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return [c.get("props", {}) for c in build().blocks.get_config_file()["components"]]


def test_the_train_tab_offers_the_corrected_drawings_with_their_count(monkeypatch, tmp_path, pen_digits_path):
    from train.pen_digits import load_pen_digits, render_sketchpad
    from webapp.draw.feedback import FeedbackStore
    from webapp.training.tab import feedback_checkbox
    store = FeedbackStore(tmp_path)
    for i, digit in enumerate(load_pen_digits(pen_digits_path)[:3]):
        store.add(render_sketchpad(digit, canvas=448, seed=i), digit.label, predicted=None, model="default",
                  session="s")
    labels = [english(p.get("label")) for p in components(monkeypatch, FEEDBACK_DIR=str(tmp_path))]
    assert "Include the corrected drawings" in labels and "Wrong? It was:" in labels
    monkeypatch.setenv("FEEDBACK_DIR", str(tmp_path))               # the count, as showing the tab refreshes it
    assert feedback_checkbox().label == "Include the corrected drawings (3)"
    assert feedback_checkbox(Request("ru-RU,ru")).label == "Добавить исправленные рисунки (3)"
    monkeypatch.setenv("FEEDBACK_DIR", str(tmp_path / "none"))
    empty = feedback_checkbox()
    assert empty.label.endswith("(0)") and empty.interactive is False


def test_a_server_that_keeps_no_drawings_offers_no_correction(monkeypatch, tmp_path):
    props = components(monkeypatch, FEEDBACK_DIR=str(tmp_path), FEEDBACK_MAX_ITEMS="0")
    row = next(p for p in props if p.get("elem_id") == "correct")
    note = next(p for p in props if p.get("elem_id") == "kept")
    assert "Nothing is kept unless you click" in english(note["value"])
    assert row["visible"] is False and note["visible"] is False
    shown = components(monkeypatch, FEEDBACK_MAX_ITEMS="10")
    assert next(p for p in shown if p.get("elem_id") == "correct")["visible"] is True
