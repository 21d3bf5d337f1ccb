"""/train stated once: the Train tab's settings (TrainConfig fields, by name), their controls generated from
TrainConfig's fields and LIMITS (as train/cli.py makes its flags), how a value from the form, an API caller
or a link becomes a TrainConfig, and the names of /train's outputs."""
from __future__ import annotations

import math
import re
from dataclasses import fields, replace
from urllib.parse import urlencode

import gradio as gr

from train import TrainConfig
from train.config import CHOICES, SettingError

from ..guards.as_sent import AsSent
from ..i18n import I18N, STRINGS
from .defaults import TRAIN_TAB
# The TrainConfig fields the tab shows, in order: /train's inputs by these names (positional callers
# pass them in this order), then "use_feedback" (add the corrected drawings) and "sketch" (a drawing to
# follow); a link's query parameters by the same names.
TAB_FIELDS = ("epochs", "batch_size", "lr", "lr_factor", "lr_patience", "augment", "seed", "hidden", "activation",
              "optimizer")
TRAIN_INPUTS = (*TAB_FIELDS, "use_feedback", "sketch")
# What each /train update holds, in order. "use" (a button), "new_model" (the key it hands to Draw) and
# "runs" (the visitor's runs) are the page's own: Gradio sends API callers the rest (API_OUTPUTS).
TRAIN_OUTPUTS = ("status", "progress", "train_loss", "valid_loss", "lr", "result", "use", "new_model", "probe",
                 "readings", "weights", "confusion", "misread", "details", "runs", "runs_table", "runs_shown",
                 "runs_pick")
API_OUTPUTS = tuple(n for n in TRAIN_OUTPUTS if n not in ("use", "new_model", "runs"))
LIMITS = TrainConfig.LIMITS
LOG_RANGE = 1000            # a number whose bounds span this ratio or more is typed, not slid (lr, batch size)
FIELDS = {f.name: f for f in fields(TrainConfig)}


def setting_text(value) -> str:
    """A setting as a link and the runs table write it: 64,32 for layers, true/false, numbers as typed."""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


# A setting's value reaches tab_config as sent (as a Checkbox's and a Textbox's already do): Gradio's own
# Number and Slider fail on a string, list, None or NaN with a bare "Error" and word their bounds in
# English; TrainConfig.validate names each, and the tab words it in the visitor's language.
class NumberSetting(AsSent, gr.Number):
    pass


class SliderSetting(AsSent, gr.Slider):
    pass


class ChoiceSetting(AsSent, gr.Dropdown):
    pass


def control(name: str) -> gr.components.Component:
    """The input for one TrainConfig field, bounded by LIMITS, at the tab's default, labelled I18N(name) and
    explained for learners by I18N("help." + name) where there is such a text."""
    f, default = FIELDS[name], getattr(TRAIN_TAB, name)
    shown = dict(label=I18N(name), info=I18N(f"help.{name}") if f"help.{name}" in STRINGS else None)
    if name in CHOICES:
        return ChoiceSetting(list(CHOICES[name]), value=default, **shown)
    if f.type == "bool":
        return gr.Checkbox(default, **shown)
    if f.type == "tuple[int, ...]":
        return gr.Textbox(setting_text(default), max_lines=1, **shown)
    lo, hi = LIMITS[name]
    if lo > 0 and hi / lo >= LOG_RANGE:
        return NumberSetting(default, minimum=lo, maximum=hi, precision=0 if f.type == "int" else None, **shown)
    if f.type == "int" and hi - lo > 100:
        return NumberSetting(default, minimum=lo, maximum=hi, precision=0, **shown)
    return SliderSetting(lo, hi, value=default, step=1 if f.type == "int" else 0.01, **shown)


def _parse(name: str, value):
    """One setting as TrainConfig takes it, from the form (a slider's 3.0), an API caller or a link (text).
    What cannot be read is passed on as it came, so that TrainConfig.validate names it."""
    kind = FIELDS[name].type
    if kind == "tuple[int, ...]":
        if isinstance(value, (list, tuple)):
            return tuple(value)
        parts = [p for p in re.split(r"[\s,]+", str(value)) if p]
        if not all(re.fullmatch(r"\d{1,9}", p) for p in parts):
            raise SettingError("hidden", "units", str(value))
        return tuple(int(p) for p in parts)
    if isinstance(value, str) and kind != "str":
        text = value.strip().lower()
        if kind == "bool":
            return {"true": True, "1": True, "on": True, "false": False, "0": False, "off": False}.get(text, value)
        try:
            value = float(text)
        except ValueError:
            return value
    if kind == "int" and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)                 # sliders and links send 3.0 or "3" for 3
    return value


def tab_config(settings: dict) -> TrainConfig:
    """TRAIN_TAB with the given tab settings (any of TAB_FIELDS); ValueError names the first bad one."""
    unknown = sorted(set(settings) - set(TAB_FIELDS))
    if unknown:
        raise SettingError("", "unknown", unknown[0], choices=TAB_FIELDS)
    return replace(TRAIN_TAB, **{name: _parse(name, v) for name, v in settings.items()}).validate()


def link_settings(query: dict) -> dict:
    """The tab settings a link's query parameters name (others, such as tab, are not settings)."""
    return {name: query[name] for name in TAB_FIELDS if name in query}


def settings_query(settings: dict) -> str:
    """A link's query string for these settings: the Train tab, and each setting that differs from its default."""
    config = tab_config(settings)
    changed = {n: setting_text(getattr(config, n)) for n in TAB_FIELDS if getattr(config, n) != getattr(TRAIN_TAB, n)}
    return "?" + urlencode({"tab": "train", **changed}, safe=",")


def train_args(settings: dict, feedback: bool = False, sketch: dict | None = None) -> list:
    """/train's positional arguments: the tab settings in `settings` (TAB_FIELDS by name; any other keys are
    ignored, the missing ones take the tab's defaults), whether to add the corrected drawings, the sketch
    whose reading to follow (None: none)."""
    values = {n: settings.get(n, getattr(TRAIN_TAB, n)) for n in TAB_FIELDS}
    return [setting_text(v) if isinstance(v, tuple) else v for v in values.values()] + [feedback, sketch]
