"""Experiments through the running app's HTTP API (gradio_client): /train takes the settings by name, a
network over TrainConfig.LIMITS (layers, units, parameters) or over the step cap counted at its larger
cost is refused before anything trains, and /runs gives the caller's runs as data."""
from __future__ import annotations

import pytest
from gradio_client import Client

from harness.app_driver import run_rows, serve_app
from webapp.training.form import API_OUTPUTS

SMALL = dict(epochs=1, batch_size=1024, hidden="32", augment=False)    # seconds on a busy machine


@pytest.fixture(scope="module")
def app(mnist_root, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    with serve_app({"MNIST_ROOT": str(mnist_root), "RUNS_DIR": str(runs)}) as url:
        yield url, runs


@pytest.mark.parametrize("settings, message", [
    (dict(hidden="1024,1024"), "parameters must be between 10 and 1,000,000, got 1,863,690"),
    (dict(hidden="64,64,64,64,64,64,64"), "layers must be between 1 and 6"),
    (dict(hidden="2000"), "hidden must be between 1 and 1,024"),
    (dict(hidden="64 wide"), "hidden must be whole numbers of units"),
    (dict(activation="gelu"), "gelu"),                                     # not one of the dropdown's choices
    # Within every bound, but 1000-200 has 4.7 times the documented network's weights: 100 epochs at
    # batch 512 are about 11,000 steps, which count as about 51,000 against the cap of 50,000.
    (dict(epochs=100, batch_size=512, hidden="1000,200"), "counts as .*50,000 per run"),
])
def test_a_network_over_the_bounds_is_refused_before_anything_trains(app, settings, message):
    url, runs = app
    c = Client(url, verbose=False)
    with pytest.raises(Exception, match=message):
        c.predict(**settings, api_name="/train")
    assert "no training run" in c.predict(api_name="/stop")             # nothing was started
    assert not list(runs.glob("*.safetensors")) and c.predict(api_name="/runs") == []


def test_settings_by_name_train_that_network_and_runs_are_data(app):
    url, runs = app
    c = Client(url, verbose=False)
    first = c.predict(**SMALL, activation="tanh", optimizer="sgd", lr=0.05, api_name="/train")
    second = c.predict(**SMALL, api_name="/train")
    out = dict(zip(API_OUTPUTS, second))
    assert "Test accuracy" in dict(zip(API_OUTPUTS, first))["result"] and "Test accuracy" in out["result"]
    # Both runs in the plots, named by what differs; the shipped model's history beside them.
    names = {row[-1] for row in out["valid_loss"]["value"]["data"]}
    assert names == {"#1 lr=0.05 tanh sgd", "#2 lr=0.003 relu adam", "shipped model"}
    assert len(run_rows(out["valid_loss"])) == 2
    table = c.predict(api_name="/runs")
    assert [r["run"] for r in table] == [1, 2] and all(r["model"].startswith("runs/app-") for r in table)
    assert table[0]["settings"] == dict(epochs=1, batch_size=1024, lr=0.05, lr_factor=0.3, lr_patience=0, augment=False,
                                        seed=0, hidden=[32], activation="tanh", optimizer="sgd")
    assert all(r["test_acc"] > 0.8 and not r["stopped"] for r in table)
    saved = {r["model"].removeprefix("runs/") for r in table}
    assert saved == {p.name for p in runs.glob("*.safetensors")}
    assert [row[0] for row in out["runs_table"]["data"]] == ["#2", "#1"]              # newest first
