"""Networks of other shapes: hidden layers, activation and optimiser set in TrainConfig and the CLI, bounded by
TrainConfig.LIMITS, carried by the checkpoint and read back by DigitRecognizer; the documented MLP stays the
default and the shipped model."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mnist_model import DEFAULT_CHECKPOINT, MLP, CheckpointError, DigitRecognizer, ModelConfig, read_metadata
from tests.conftest import REPO
from tests.test_checkpoint import INFO, _with_metadata
from train import EpochEvent, TrainConfig, train


def test_the_documented_recipe_stays_the_default():
    assert TrainConfig().model_config() == ModelConfig() == ModelConfig(hidden=(200, 150, 100, 80), activation="relu")
    assert TrainConfig().optimizer == "adam" and TrainConfig().step_cost() == 1.0
    # 784*200+200 + 200*150+150 + 150*100+100 + 100*80+80 + 80*10+10, counted by hand
    assert ModelConfig().parameters() == sum(p.numel() for p in MLP().parameters()) == 211_140


def test_the_shipped_checkpoint_has_no_activation_field_and_reads_as_relu():
    assert "activation" not in read_metadata(DEFAULT_CHECKPOINT)["model_config"]
    assert DigitRecognizer.load().model.config.activation == "relu"


@pytest.mark.parametrize("activation, reference", [("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
                                                    ("relu", lambda x: x.clamp(min=0))])
def test_each_activation_is_the_one_applied(activation, reference):
    torch.manual_seed(0)
    model = MLP(ModelConfig(hidden=(32, 16), activation=activation))
    x = torch.randn(5, 784)
    a, b, c = model.layers
    expected = c(reference(b(reference(a(x)))))
    assert torch.allclose(model(x), expected, atol=1e-6)


@pytest.mark.parametrize("bad, message", [
    (dict(hidden=()), "layers must be between 1 and 6"),
    (dict(hidden=(8,) * 7), "layers must be between 1 and 6"),
    (dict(hidden=(0,)), "hidden must be between 1 and 1,024"),
    (dict(hidden=(2048,)), "hidden must be between 1 and 1,024"),
    (dict(hidden=(1024, 1024)), "parameters must be between 10 and 1,000,000"),
    (dict(hidden=[64]), "hidden must be a tuple of whole numbers"),
    (dict(hidden=(64.0,)), "hidden must be a tuple of whole numbers"),
    (dict(activation="gelu"), "activation must be one of relu, tanh, sigmoid"),
    (dict(optimizer="rmsprop"), "optimizer must be one of adam, sgd"),
])
def test_shapes_outside_the_limits_are_refused_before_any_work(bad, message, tmp_path):
    missing = tmp_path / "no-mnist-here"
    with pytest.raises(ValueError, match=message):
        train(TrainConfig(**bad), tmp_path / "m.safetensors", data_dir=missing)
    assert not missing.exists() and not (tmp_path / "m.safetensors").exists()


def test_a_larger_network_costs_more_steps_on_the_server_cap():
    wide = TrainConfig(hidden=(1000, 200))
    assert wide.step_cost() == pytest.approx(wide.model_config().parameters() / ModelConfig().parameters())
    assert wide.step_cost() > 3 and TrainConfig(hidden=(32,)).step_cost() == 1.0


def test_another_shape_trains_with_sgd_and_learns(small_mnist, tmp_path):
    config = TrainConfig(epochs=2, hidden=(64, 32), activation="tanh", optimizer="sgd", lr=0.05, augment=False,
                         styles=0.0)
    events = list(train(config, tmp_path / "m.safetensors", data=small_mnist))
    done = events[-1]
    assert [e.first_layer.shape for e in events if isinstance(e, EpochEvent)] == [(64, 784)] * 2
    assert done.first_layer.shape == (64, 784) and done.test_acc > 0.8
    rec = DigitRecognizer.load(done.checkpoint)
    assert rec.model.config == config.model_config() and rec.info["train_config"]["optimizer"] == "sgd"


def test_a_checkpoint_naming_an_unknown_activation_is_refused(tmp_path):
    tensors = MLP().state_dict()
    path = _with_metadata(tmp_path, tensors, {**INFO, "model_config": {**ModelConfig().to_dict(), "activation": "exec"}})
    with pytest.raises(CheckpointError, match="model config is damaged"):
        DigitRecognizer.load(path)


def test_cli_trains_another_shape_that_digit_recognizer_reads(mnist_root, mnist, tmp_path):
    result = subprocess.run([sys.executable, "-m", "train", "--hidden", "64", "--activation", "tanh", "--optimizer",
                             "sgd", "--dry-run", "--out", str(tmp_path), "--data-dir", str(mnist_root)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    rec = DigitRecognizer.load(tmp_path / "mnist_mlp.safetensors")
    assert rec.model.config == ModelConfig(hidden=(64,), activation="tanh")
    assert rec.info["train_config"]["optimizer"] == "sgd" and rec.info["train_config"]["hidden"] == [64]
    p = rec.predict(mnist.test_x[0].numpy())
    x = (torch.from_numpy(p.image28).float() / 255 - rec.info["mean"]) / rec.info["std"]
    with torch.no_grad():
        expected = torch.softmax(torch.tanh(x.view(1, 784) @ rec.model.layers[0].weight.T + rec.model.layers[0].bias)
                                 @ rec.model.layers[1].weight.T + rec.model.layers[1].bias, 1)[0].numpy()
    assert p.probabilities == pytest.approx(expected, abs=1e-5)


def test_cli_refuses_a_shape_over_the_bounds_with_a_message(tmp_path):
    result = subprocess.run([sys.executable, "-m", "train", "--hidden", "1024", "1024", "--out", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "parameters must be between" in result.stderr
    assert not any(tmp_path.iterdir())
