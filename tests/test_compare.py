"""The Train tab's form and runs compared, in process: settings from the form, an API caller and a link
become the same TrainConfig (bad ones refused with TrainConfig's own message); a link made from settings
reads back as them; runs are named by what differs, keep distinct colours and are listed newest first."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest

from train import TrainConfig
from webapp.training.compare import MAX_RUNS, PALETTE, curves, kept, legend, next_run, record, table, table_data
from webapp.training.form import TAB_FIELDS, TRAIN_TAB, link_settings, settings_query, tab_config, train_args


def test_form_api_and_link_values_make_the_same_config():
    form = dict(epochs=3.0, batch_size=256, lr=0.1, hidden="64, 32", activation="tanh", augment=False)
    link = dict(epochs="3", batch_size="256", lr="0.1", hidden="64,32", activation="tanh", augment="false")
    expected = replace(TRAIN_TAB, epochs=3, batch_size=256, lr=0.1, hidden=(64, 32), activation="tanh", augment=False)
    assert tab_config(form) == tab_config(link) == expected
    assert tab_config({}) == TRAIN_TAB


@pytest.mark.parametrize("settings, message", [
    (dict(epochs="3.5"), "epochs must be a whole number"), (dict(lr="fast"), "lr must be a finite number"),
    (dict(lr="nan"), "lr must be a finite number"), (dict(augment="maybe"), "augment must be true or false"),
    (dict(hidden="64;32"), "hidden must be whole numbers of units"), (dict(hidden="0"), "hidden must be between 1"),
    (dict(optimizer="adamw"), "optimizer must be one of adam, sgd"), (dict(valid_size=10), "unknown setting"),
])
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ValueError, match=message):
        tab_config(settings)


def test_a_link_to_settings_reads_back_as_them():
    settings = dict(epochs=3, lr=0.1, hidden=(32,), optimizer="sgd", augment=False)
    query = settings_query(settings)
    params = dict(parse_qsl(urlsplit(query).query))
    assert params == {"tab": "train", "epochs": "3", "lr": "0.1", "hidden": "32", "optimizer": "sgd",
                      "augment": "false"}                                    # only what differs from the defaults
    assert tab_config(link_settings(params)) == replace(TRAIN_TAB, **settings)
    assert settings_query({}) == "?tab=train"


def test_positional_api_arguments_follow_the_tab_fields():
    args = train_args(dict(epochs=2, hidden=(64, 32)), feedback=True)
    assert len(args) == len(TAB_FIELDS) + 2 and args[-2:] == [True, None]
    assert args[TAB_FIELDS.index("hidden")] == "64,32" and args[TAB_FIELDS.index("lr")] == TRAIN_TAB.lr


def snapshot(config: TrainConfig, loss: float, stopped: bool = False):
    """A finished run as the training slot reports it."""
    done = SimpleNamespace(test_acc=0.9, stopped=stopped)
    return SimpleNamespace(config=config, steps=[{"epoch": i / 10, "loss": loss} for i in range(1, 11)],
                           epochs=[{"epoch": 1, "valid_loss": loss, "valid_acc": 0.8, "lr": config.lr}],
                           elapsed=12.0, done=done)


def test_runs_are_named_by_what_differs_and_drawn_beside_the_shipped_model():
    runs = []
    for lr in (0.003, 0.03):
        runs = kept(runs, record(*next_run(runs), snapshot(replace(TRAIN_TAB, lr=lr), loss=lr), "runs/a"))
    assert legend(runs) == {1: "#1 lr=0.003", 2: "#2 lr=0.03"}
    drawn = curves(runs, "en")
    assert set(drawn["valid_loss"]["run"]) == {"#1 lr=0.003", "#2 lr=0.03", "shipped model"}
    assert drawn["colours"]["#1 lr=0.003"] != drawn["colours"]["#2 lr=0.03"]
    runs[0].shown = False
    assert set(curves(runs, "ru")["lr"]["run"]) == {"#2", "встроенная модель"}
    rows = table(runs, "en").values.tolist()
    assert [r[0] for r in rows] == ["#2", "#1"] and rows[0][1] == "lr=0.03" and rows[1][-1] == "no"
    assert [r["settings"]["lr"] for r in table_data(runs)] == [0.003, 0.03]


def test_kept_runs_never_share_a_colour():
    runs = []
    for i in range(3 * MAX_RUNS):
        runs = kept(runs, record(*next_run(runs), snapshot(TRAIN_TAB, loss=1.0)))
        if i % 4 == 3:
            runs = runs[1:-1]                                   # some removed from the comparison
        assert len({r.colour for r in runs}) == len(runs) <= MAX_RUNS
        assert {r.colour for r in runs} <= set(PALETTE)
