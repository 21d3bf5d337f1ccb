"""The visitor's runs side by side. Every run this browser session trained is kept as a RunRecord (in a
gr.State): its settings, curves and results. The Train tab's three plots draw the shown records beside
the run in progress, each in a colour of its own and named by the settings in which they differ, with
the shipped model's recorded history as a reference; a table lists them all."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import gradio as gr
import pandas as pd

from mnist_model import DEFAULT_CHECKPOINT, CheckpointError, read_metadata
from train.config import CHOICES

from ..i18n import text
from .form import TAB_FIELDS, TRAIN_TAB, setting_text

# Distinct colours for runs (matplotlib's tab10 without its grey, which marks the shipped model). A
# session keeps as many runs as there are colours, and a new run takes one its kept runs do not use.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
SHIPPED_COLOUR = "#9e9e9e"
MAX_RUNS = len(PALETTE)
KEPT_POINTS = 250           # train-loss points kept of an ended run: an earlier run is sent with every update


@dataclass
class RunRecord:
    """One run of this session, as the comparison needs it (also the run in progress, as far as it got)."""
    number: int                 # 1, 2, ... in the order this session started them
    colour: str                 # its lines' colour, one of PALETTE
    settings: dict              # the Train tab's settings (form.TAB_FIELDS)
    lr0: float                  # the learning rate the first epoch trained with
    steps: list[dict] = field(default_factory=list)     # {"epoch", "loss"}: the train-loss points
    epochs: list[dict] = field(default_factory=list)    # the engine's per-epoch records
    seconds: float = 0.0
    key: str | None = None      # the picker key of its saved model, once there is one
    test_acc: float | None = None
    stopped: bool = False
    shown: bool = True          # drawn in the plots

    @property
    def best_valid_acc(self) -> float | None:
        return max((e["valid_acc"] for e in self.epochs), default=None)


def frame(rows: list[dict], **dtypes: type) -> pd.DataFrame:
    """Typed even when empty: a plot given an untyped empty frame draws its axes as categories for good."""
    return pd.DataFrame(rows, columns=list(dtypes)).astype(dtypes)


def next_run(runs: list[RunRecord]) -> tuple[int, str]:
    """The number and colour of the next run beside `runs`: a colour none of the runs kept with it has."""
    used = {r.colour for r in runs[-(MAX_RUNS - 1):]}
    return max((r.number for r in runs), default=0) + 1, next(c for c in PALETTE if c not in used)


def record(number: int, colour: str, snap, key: str | None = None) -> RunRecord:
    """A training slot's Snapshot (webapp.training.slot) as a RunRecord; an ended run's train-loss curve
    thinned to about KEPT_POINTS points."""
    done = snap.done
    stride = max(1, -(-len(snap.steps) // KEPT_POINTS)) if done is not None else 1
    return RunRecord(number, colour, {name: getattr(snap.config, name) for name in TAB_FIELDS}, snap.config.lr,
                     snap.steps[::stride], list(snap.epochs), snap.elapsed, key,
                     done.test_acc if done is not None else None, bool(done is not None and done.stopped))


def kept(runs: list[RunRecord], new: RunRecord) -> list[RunRecord]:
    """`runs` with `new` added, the oldest dropped beyond MAX_RUNS."""
    return [*runs, new][-MAX_RUNS:]


def legend(runs: list[RunRecord]) -> dict[int, str]:
    """Each run's name in the plots: its number and the settings in which the runs differ ("#2 lr=0.1 tanh")."""
    differ = [f for f in TAB_FIELDS if len({setting_text(r.settings[f]) for r in runs}) > 1]
    # Kept short, the legend being one line under a third of the page: a named choice says itself ("tanh").
    def named(f: str, value) -> str:
        return setting_text(value) if f in CHOICES else f"{f}={setting_text(value)}"
    return {r.number: " ".join([f"#{r.number}", *(named(f, r.settings[f]) for f in differ)]) for r in runs}


@cache
def shipped_history() -> tuple[float, tuple[dict, ...]]:
    """The shipped model's initial learning rate and per-epoch records (empty when its file says none)."""
    try:
        info = read_metadata(DEFAULT_CHECKPOINT)
        return float(info["train_config"]["lr"]), tuple(info["history"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        return 0.0, ()


def curves(runs: list[RunRecord], lang: str) -> dict:
    """The three plots' frames (each point with its run's name in column "run") and the colour of every
    name, for the shown runs and the shipped model's reference."""
    shown = [r for r in runs if r.shown]
    names = legend(shown)
    train, valid, lrs = [], [], []
    for r in shown:
        name = names[r.number]
        train += [{"epoch": s["epoch"], "loss": s["loss"], "run": name} for s in r.steps]
        valid += [{"epoch": e["epoch"], "valid_loss": e["valid_loss"], "run": name} for e in r.epochs]
        lrs += [{"epoch": 0.0, "lr": r.lr0, "run": name}] + [{"epoch": e["epoch"], "lr": e["lr"], "run": name}
                                                            for e in r.epochs]
    colours = {names[r.number]: r.colour for r in shown}
    lr0, history = shipped_history()
    if history:
        name = text(lang, "compare.shipped")
        colours[name] = SHIPPED_COLOUR
        train += [{"epoch": float(h["epoch"]), "loss": h["train_loss"], "run": name} for h in history]
        valid += [{"epoch": float(h["epoch"]), "valid_loss": h["valid_loss"], "run": name} for h in history]
        lrs += [{"epoch": 0.0, "lr": lr0, "run": name}] + [{"epoch": float(h["epoch"]), "lr": h["lr"], "run": name}
                                                           for h in history]
    return {"train_loss": frame(train, epoch=float, loss=float, run=str),
            "valid_loss": frame(valid, epoch=float, valid_loss=float, run=str),
            "lr": frame(lrs, epoch=float, lr=float, run=str), "colours": colours}


def changed_settings(settings: dict) -> str:
    """The settings that differ from the Train tab's defaults, as a link writes them."""
    return ", ".join(f"{f}={setting_text(v)}" for f, v in settings.items() if v != getattr(TRAIN_TAB, f))


def table_data(runs: list[RunRecord]) -> list[dict]:
    """The runs table as plain data, for API callers (/runs)."""
    return [{"run": r.number, "settings": {f: list(v) if isinstance(v, tuple) else v for f, v in r.settings.items()},
             "best_valid_acc": r.best_valid_acc, "test_acc": r.test_acc, "seconds": round(r.seconds, 1),
             "stopped": r.stopped, "model": r.key, "shown": r.shown} for r in runs]


def table(runs: list[RunRecord], lang: str) -> pd.DataFrame:
    """The runs table the Train tab shows, newest first, headers in `lang`."""
    def percent(x: float | None) -> str:
        return f"{x:.2%}" if x is not None else "-"
    rows = [[f"#{r.number}", changed_settings(r.settings) or text(lang, "compare.defaults"),
             percent(r.best_valid_acc), percent(r.test_acc), text(lang, "status.seconds", s=r.seconds),
             text(lang, "compare.stopped" if r.stopped else "compare.finished"),
             text(lang, "compare.yes" if r.shown else "compare.no")] for r in reversed(runs)]
    columns = [text(lang, f"compare.col.{c}") for c in ("run", "settings", "valid", "test", "time", "ended", "shown")]
    return pd.DataFrame(rows, columns=columns)


PLOTS = (("train_loss", gr.LinePlot), ("valid_loss", gr.ScatterPlot), ("lr", gr.LinePlot))


class PlotUpdates:
    """The three plots' updates for one stream of them. Gradio's native plot takes its colour legend from
    the data when it is drawn, and draws anew when a setting such as color_map changes but not when only
    the data does; a color_map sent together with data may be applied before that data. So each update
    carries the data, and the colours of the runs in it go out once, in the update after the one whose
    data first named that set of runs: the plot is then drawn again with every run in its legend."""

    def __init__(self) -> None:
        self.seen: dict[str, frozenset] = {}      # plot: the runs named in its last data
        self.sent: dict[str, frozenset] = {}      # plot: the runs whose colours it was last sent

    def __call__(self, runs: list[RunRecord], lang: str) -> dict:
        drawn, updates = curves(runs, lang), {}
        for name, kind in PLOTS:
            names = frozenset(drawn[name]["run"])
            props = {"value": drawn[name]}
            if self.seen.get(name) == names and self.sent.get(name) != names:
                props["color_map"] = _colours(drawn, name)
                self.sent[name] = names
            self.seen[name] = names
            updates[name] = kind(**props)
        return updates


def recoloured(runs: list[RunRecord], lang: str) -> dict:
    """The plots' colours alone, for the runs their data (sent before) names: they are drawn anew."""
    drawn = curves(runs, lang)
    return {name: kind(color_map=_colours(drawn, name)) for name, kind in PLOTS}


def _colours(drawn: dict, plot: str) -> dict[str, str]:
    return {n: drawn["colours"][n] for n in sorted(set(drawn[plot]["run"]))}
