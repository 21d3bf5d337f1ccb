"""What a run reports about what it learned, checked against the saved model: the probe digit's
probabilities per epoch, the first layer's weights, the test confusion matrix and the misread digits;
the pictures drawn from them; the faster augmentation against torch's general-purpose ops; style
copies drawn once and reused giving the same run."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from harness.reference_augment import reference_augment
from mnist_model import load_checkpoint
from train import EpochEvent, TrainConfig, planned_steps, train, with_styles
from train import augment as aug
from train.engine import MISREAD_KEPT
from train.figures import confusion_figure, misread_figure, weight_grid

ONE_EPOCH = TrainConfig(epochs=1, batch_size=250, styles=0.0)


@pytest.fixture(scope="module")
def run(small_mnist, tmp_path_factory):
    """One epoch that follows a test digit (a 7) as a visitor's drawing; with one epoch, the saved
    weights are that epoch's."""
    probe = small_mnist.test_x[0].numpy()
    out = tmp_path_factory.mktemp("run") / "m.safetensors"
    events = list(train(ONE_EPOCH, out, data=small_mnist, probe=probe))
    model, info = load_checkpoint(events[-1].checkpoint)
    return events, model, info, probe


def probabilities(model, info, x: torch.Tensor) -> torch.Tensor:
    """softmax(model(x)) for uint8 digits (N, 28, 28), recomputed in float64."""
    model = model.double()
    with torch.no_grad():
        return torch.softmax(model((x.double() / 255 - info["mean"]) / info["std"]), 1)


def test_the_probe_is_read_after_each_epoch_as_the_saved_model_reads_it(run):
    events, model, info, probe = run
    [epoch] = [e for e in events if isinstance(e, EpochEvent)]
    expected = probabilities(model, info, torch.from_numpy(probe)[None])[0]
    assert epoch.probe == pytest.approx(expected.tolist(), abs=1e-5) and math.isclose(sum(epoch.probe), 1, abs_tol=1e-5)
    assert "probe" not in events[-1].history[0] and "first_layer" not in info["history"][0]


def test_first_layer_weights_are_the_models(run):
    events, model, _, _ = run
    [epoch] = [e for e in events if isinstance(e, EpochEvent)]
    assert epoch.first_layer.shape == (200, 784)
    assert np.array_equal(epoch.first_layer, model.layers[0].weight.detach().numpy())
    assert np.array_equal(events[-1].first_layer, epoch.first_layer)


def test_confusion_and_misread_digits_match_the_saved_model(run, small_mnist):
    done, model, info = run[0][-1], run[1], run[2]
    p = probabilities(model, info, small_mnist.test_x)
    confidence, predicted = p.max(1)
    expected = np.zeros((10, 10), int)
    np.add.at(expected, (small_mnist.test_y.numpy(), predicted.numpy()), 1)
    assert np.array_equal(done.confusion, expected)
    assert np.trace(expected) / expected.sum() == pytest.approx(done.test_acc, abs=1e-6)
    wrong = (predicted != small_mnist.test_y).nonzero().flatten()
    assert len(done.misread) == min(MISREAD_KEPT, len(wrong)) > 0
    top = set(wrong[confidence[wrong].argsort(descending=True)[:MISREAD_KEPT]].tolist())
    assert {m.index for m in done.misread} == top
    assert [m.confidence for m in done.misread] == sorted((m.confidence for m in done.misread), reverse=True)
    for m in done.misread:
        assert m.label == small_mnist.test_y[m.index] != m.predicted == predicted[m.index]
        assert m.confidence == pytest.approx(confidence[m.index].item(), abs=1e-5)
        assert np.array_equal(m.image, small_mnist.test_x[m.index].numpy())


def test_a_probe_that_is_not_a_digit_is_refused_before_any_work(small_mnist, tmp_path):
    with pytest.raises(ValueError, match="probe must be a .28, 28. image"):
        train(ONE_EPOCH, tmp_path / "m.safetensors", data=small_mnist, probe=np.zeros((10, 10), np.uint8))
    assert not list(tmp_path.iterdir())


def test_weight_grid_shows_each_unit_as_a_tile():
    w = np.zeros((200, 784), np.float32)
    w[0, 0], w[1, 0], w[199, 783] = 2.0, -0.5, 0.1          # unit 0: red corner, unit 1: blue, the last: red
    grid = weight_grid(w)
    assert grid.shape == (10 * 29 + 1, 20 * 29 + 1, 3) and grid.dtype == np.uint8
    assert grid[1, 1].tolist() == [255, 0, 0] and grid[1, 30].tolist() == [0, 0, 255]
    assert grid[2, 2].tolist() == [255, 255, 255] and grid[0, 0].tolist() == [153, 153, 153]   # zero; gap
    assert grid[9 * 29 + 28, 19 * 29 + 28].tolist() == [255, 0, 0]


def test_figures_draw_the_numbers_they_are_given(run, tmp_path):
    done = run[0][-1]
    fig = confusion_figure(done.confusion)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {str(n) for row in done.confusion for n in row if n} == texts
    assert f"{np.trace(done.confusion):,} of {np.sum(done.confusion):,} right" in fig.axes[0].get_title()
    fig = misread_figure(done.misread)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    first = done.misread[0].label
    assert len(titles) == len(done.misread) and titles[0].startswith(f"{'an' if first == 8 else 'a'} {first}\nread as")


def test_augment_matches_the_general_purpose_ops(small_mnist):
    x = small_mnist.train_x[:300].float().div(255).unsqueeze(1)
    ours = aug.augment(x, torch.Generator().manual_seed(3))
    reference = reference_augment(x, torch.Generator().manual_seed(3))
    assert (ours - x).abs().mean() > 0.05                     # it does change the digits
    assert torch.allclose(ours, reference, atol=1e-5)


def test_style_copies_drawn_once_give_the_same_run(small_mnist, tmp_path):
    config = replace(ONE_EPOCH, styles=0.5)
    styled = with_styles(config, small_mnist)
    assert with_styles(config, styled) is styled and planned_steps(config, styled) == planned_steps(config, small_mnist)

    def history(data, name):
        return [(e.train_loss, e.valid_acc) for e in train(config, tmp_path / name, data=data)
                if isinstance(e, EpochEvent)]
    assert history(styled, "a.safetensors") == history(small_mnist, "b.safetensors")
