"""train.adapt: a personal model learns a person's digits, leaves the base alone and keeps MNIST."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import labels
from train.adapt import AdaptConfig, adapt, adapted_bytes, shifted


def test_the_personal_model_reads_the_corrected_digits_and_the_base_is_untouched(shipped, replay, misread):
    x, y = misread
    before = {k: v.clone() for k, v in shipped.model.state_dict().items()}
    personal = adapt(shipped.model, shipped.mean, shipped.std, x, y, replay)
    assert (labels(personal, shipped, x) == y).all()
    assert (labels(shipped.model, shipped, x) != y).all()
    for k, v in shipped.model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_mnist_is_not_forgotten(shipped, replay, misread, mnist):
    personal = adapt(shipped.model, shipped.mean, shipped.std, *misread, replay)
    x, y = mnist.test_x[:3000].numpy(), mnist.test_y[:3000].numpy()
    base_acc = (labels(shipped.model, shipped, x) == y).mean()
    assert (labels(personal, shipped, x) == y).mean() >= base_acc - 0.01


def test_only_the_last_layers_change_and_only_they_are_counted(shipped, replay, misread):
    personal = adapt(shipped.model, shipped.mean, shipped.std, *misread, replay, AdaptConfig(layers=2, steps=5))
    assert all(mine is theirs for mine, theirs in zip(personal.layers[:3], shipped.model.layers[:3]))
    assert all(not torch.equal(mine.weight, theirs.weight)
               for mine, theirs in zip(personal.layers[3:], shipped.model.layers[3:]))
    assert adapted_bytes(personal, shipped.model) == (100 * 80 + 80 + 80 * 10 + 10) * 4
    assert not any(p.requires_grad for layer in personal.layers[3:] for p in layer.parameters())


def test_the_same_seed_gives_the_same_weights(shipped, replay, misread):
    runs = [adapt(shipped.model, shipped.mean, shipped.std, *misread, replay, AdaptConfig(steps=5, seed=s))
            for s in (0, 0, 1)]
    assert torch.equal(runs[0].layers[0].weight, runs[1].layers[0].weight)
    assert not torch.equal(runs[0].layers[0].weight, runs[2].layers[0].weight)


@pytest.mark.parametrize("x, y", [(np.zeros((2, 28, 28), np.uint8), [1]),          # labels and digits differ
                                  (np.zeros((1, 27, 28), np.uint8), [1]),          # not 28 x 28
                                  (np.zeros((0, 28, 28), np.uint8), []),           # nothing to learn from
                                  (np.zeros((1, 28, 28), np.uint8), [10])])        # no such digit
def test_bad_digits_are_refused(shipped, replay, x, y):
    with pytest.raises(ValueError):
        adapt(shipped.model, shipped.mean, shipped.std, x, np.array(y, dtype=np.int64), replay)


def test_shifted_moves_each_image_by_at_most_the_shift():
    x = torch.rand(50, 28, 28)
    out = shifted(x, 1, torch.Generator().manual_seed(0))
    for a, b in zip(x.numpy(), out.numpy()):
        padded = np.pad(a, 1)
        assert any(np.array_equal(b, padded[dy:dy + 28, dx:dx + 28]) for dy in range(3) for dx in range(3))
    assert not torch.equal(out, x)
