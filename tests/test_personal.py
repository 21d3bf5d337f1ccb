"""webapp.draw.personal: each visitor's model learned from their digits, cached within its bounds, rebuilt
the same when evicted, dropped when forgotten; the visitor's state keeps only their newest digits."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from tests.conftest import labels
from train.adapt import AdaptConfig
from webapp.draw.personal import NICENESS, Handwriting, PersonalLimits, PersonalModels, _yield_cpu
from webapp.training.runs import DEFAULT_KEY

QUICK = AdaptConfig(steps=10)     # for tests of the cache's bookkeeping, not of what is learned


def hand_of(x: np.ndarray, y: np.ndarray, keep: int = 100) -> Handwriting:
    hand = Handwriting()
    for picture, label in zip(x, y):
        hand = hand.add(picture, int(label), keep)
    return hand


def weights(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_a_visitors_model_reads_their_corrected_digits_and_is_kept(shipped, replay, misread):
    models = PersonalModels(PersonalLimits(), replay=replay)
    hand = hand_of(*misread)
    model = models.learn("a", DEFAULT_KEY, shipped, hand).result()
    assert (labels(model, shipped, misread[0]) == misread[1]).all()
    assert models.model("a", DEFAULT_KEY, shipped, hand) is model            # from the cache, not learned again
    assert models.cached("a", DEFAULT_KEY, hand) is model
    assert models.cached("a", DEFAULT_KEY, hand.add(misread[0][0], 1, 100)) is None     # never waits to learn
    assert models.learn("a", DEFAULT_KEY, shipped, hand).result() is model
    other = models.model("b", DEFAULT_KEY, shipped, hand_of(misread[0][:1], misread[1][:1]))
    assert other is not model and len(models) == 2


def test_the_count_bound_evicts_the_least_recent_and_a_rebuilt_model_is_the_same(shipped, replay, misread):
    models = PersonalModels(PersonalLimits(max_models=2), recipe=QUICK, replay=replay)
    hands = {s: hand_of(misread[0][:k], misread[1][:k]) for k, s in enumerate("abc", start=1)}
    first = {s: weights(models.model(s, DEFAULT_KEY, shipped, h)) for s, h in hands.items()}
    assert len(models) == 2                                                   # "a" was evicted
    rebuilt = models.model("a", DEFAULT_KEY, shipped, hands["a"])
    assert all(torch.equal(p, q) for p, q in zip(weights(rebuilt), first["a"]))
    assert len(models) == 2


def test_the_memory_bound_holds(shipped, replay, misread):
    models = PersonalModels(PersonalLimits(max_mb=1.0), recipe=QUICK, replay=replay)    # one full model is 0.84 MB
    hand = hand_of(*misread)
    for session in "abc":
        models.model(session, DEFAULT_KEY, shipped, hand)
        assert len(models) == 1 and 0 < models.bytes <= 1e6


def test_forgetting_drops_the_model_and_one_still_being_learned(shipped, replay, misread):
    models = PersonalModels(PersonalLimits(), recipe=QUICK, replay=replay)
    hand = hand_of(*misread)
    models.model("a", DEFAULT_KEY, shipped, hand)
    models.forget("a")
    assert len(models) == 0
    pending = models.learn("a", DEFAULT_KEY, shipped, hand.add(misread[0][0], 3, 100))
    models.forget("a")
    pending.result()
    assert len(models) == 0


def test_newer_digits_or_another_base_give_another_model(shipped, replay, misread):
    models = PersonalModels(PersonalLimits(), recipe=QUICK, replay=replay)
    hand = hand_of(*misread)
    one = models.model("a", DEFAULT_KEY, shipped, hand)
    two = models.model("a", DEFAULT_KEY, shipped, hand.add(misread[0][0], int(misread[1][0]), 100))
    three = models.model("a", "another", shipped, hand)
    assert one is not two and two is not three and len(models) == 1
    assert models.model("a", "another", shipped, hand) is three


def test_a_hand_keeps_only_its_newest_digits():
    x = np.arange(5, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8)
    hand = hand_of(x, np.arange(5), keep=3)
    assert len(hand) == 3 and hand.y.tolist() == [2, 3, 4] and hand.x[:, 0, 0].tolist() == [2, 3, 4]
    assert hand.fingerprint("m") != hand_of(x, np.arange(5), keep=4).fingerprint("m")
    assert hand.fingerprint("m") != hand.fingerprint("n")


def test_bounds_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PERSONAL_MAX_MODELS", "3")
    monkeypatch.setenv("PERSONAL_MAX_MB", "2.5")
    assert PersonalLimits.from_env() == PersonalLimits(max_models=3, max_mb=2.5)
    monkeypatch.setenv("PERSONAL_MAX_DIGITS", "many")
    with pytest.raises(ValueError, match="PERSONAL_MAX_DIGITS"):
        PersonalLimits.from_env()


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="no per-thread priority on this system")
def test_the_adaptation_thread_yields_the_cpu_to_predictions():
    niceness = []

    def adaptation_thread() -> None:
        _yield_cpu()
        niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    thread = threading.Thread(target=adaptation_thread)
    thread.start()
    thread.join()
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness == [min(19, mine + NICENESS)] and os.getpriority(os.PRIO_PROCESS, 0) == mine
