"""Each visitor's personal model (train.adapt). What they taught is theirs: their labelled 28 x 28
digits, a Handwriting kept in their session's gr.State (a few kB). The adapted weights are a cache
shared by the server, bounded in count and memory, keyed by session: an evicted model is adapted
again from the state on the visitor's next prediction, and a closed session's is dropped. Adaptations
run one at a time on a thread of their own, off the request path of every prediction."""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from mnist_model import MLP, DigitRecognizer
from train import load_mnist
from train.adapt import AdaptConfig, Replay, adapt, adapted_bytes

from ..guards.limits import numbers_from_env

RECIPE = AdaptConfig()          # the recipe bench.personal_gain kept (docs/results.md: Your handwriting)
WAIT_SECONDS = 30.0             # longest a prediction waits for its visitor's adaptation (queue included)
NICENESS = 10                   # added to the adaptation thread's nice value: predictions get the CPU first


@dataclass(frozen=True)
class PersonalLimits:
    """The cache's bounds, from the environment (README: Limits on a public server)."""
    max_models: int = 64        # PERSONAL_MAX_MODELS: adapted models held at once, all visitors
    max_mb: float = 64.0        # PERSONAL_MAX_MB: their memory, MB
    max_digits: int = 100       # PERSONAL_MAX_DIGITS: a visitor's digits learned from, the newest kept; 0: none

    @classmethod
    def from_env(cls) -> "PersonalLimits":
        return numbers_from_env(cls, ("PERSONAL_MAX_MODELS", "PERSONAL_MAX_MB", "PERSONAL_MAX_DIGITS"))


@dataclass(frozen=True)
class Handwriting:
    """What one visitor taught: x uint8 (N, 28, 28) as to_mnist makes them, y int64 (N,)."""
    x: np.ndarray = field(default_factory=lambda: np.zeros((0, 28, 28), np.uint8))
    y: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.y)

    def add(self, picture: np.ndarray, label: int, keep: int) -> "Handwriting":
        """This handwriting with one more digit, the oldest dropped beyond `keep`."""
        return Handwriting(np.concatenate([self.x, picture[None].astype(np.uint8)])[-keep:],
                           np.append(self.y, np.int64(label))[-keep:])

    def fingerprint(self, model_key: str) -> str:
        """Names the model these digits adapt `model_key` into: equal fingerprints, equal weights."""
        data = model_key.encode() + b"\0" + self.x.tobytes() + self.y.tobytes()
        return hashlib.blake2b(data, digest_size=12).hexdigest()


class PersonalModels:
    """Adapted models by session, bounded; adaptations one at a time on one thread. Thread-safe."""

    def __init__(self, limits: PersonalLimits | None = None, recipe: AdaptConfig = RECIPE,
                 replay: Replay | None = None) -> None:
        self.limits = limits or PersonalLimits.from_env()
        self.recipe = recipe
        self._lock = threading.Lock()
        self._models: OrderedDict[str, tuple[str, MLP, int]] = OrderedDict()   # session -> (fingerprint, model, bytes)
        self._pending: dict[str, tuple[str, Future]] = {}
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="personal", initializer=_yield_cpu)
        self._replay = replay

    def replay(self) -> Replay:
        """MNIST digits to mix in (unless given), read on first use: on the worker thread, or by warm()."""
        if self._replay is None:
            self._replay = Replay.from_mnist(load_mnist())
        return self._replay

    def warm(self) -> Future:
        """Read the replay digits now, on the worker thread, so that the first adaptation need not."""
        return self._worker.submit(self.replay)

    def learn(self, session: str, model_key: str, base: DigitRecognizer, hand: Handwriting) -> Future:
        """The adaptation of `base` to `hand` for `session`, started now or already under way; its result
        is the model, also put in the cache (None when forgotten or overtaken before its turn came)."""
        fingerprint = hand.fingerprint(model_key)
        with self._lock:
            cached = self._models.get(session)
            if cached is not None and cached[0] == fingerprint:
                done: Future = Future()
                done.set_result(cached[1])
                return done
            pending = self._pending.get(session)
            if pending is not None and pending[0] == fingerprint:
                return pending[1]
            future = self._worker.submit(self._adapt, session, fingerprint, base, hand)
            self._pending[session] = (fingerprint, future)
            return future

    def cached(self, session: str, model_key: str, hand: Handwriting) -> MLP | None:
        """The visitor's model for `hand` if it is in the cache now, else None; never waits."""
        with self._lock:
            cached = self._models.get(session)
            if cached is not None and cached[0] == hand.fingerprint(model_key):
                self._models.move_to_end(session)
                return cached[1]
        return None

    def model(self, session: str, model_key: str, base: DigitRecognizer, hand: Handwriting) -> MLP:
        """The visitor's model for `hand`: from the cache, else adapted (waiting for it). Raises
        TimeoutError past WAIT_SECONDS, and whatever the adaptation raised."""
        model = self.cached(session, model_key, hand)
        if model is not None:
            return model
        for _ in range(2):      # a second time only if newer digits of the visitor's overtook this request
            model = self.learn(session, model_key, base, hand).result(WAIT_SECONDS)
            if model is not None:
                return model
        raise TimeoutError("the visitor's newer drawings overtook this reading")

    def _adapt(self, session: str, fingerprint: str, base: DigitRecognizer, hand: Handwriting) -> MLP | None:
        """The model, cached; None, not learned, when it is no longer wanted by the time its turn comes."""
        with self._lock:
            if self._pending.get(session, ("",))[0] != fingerprint:
                return None
        model = None
        try:
            model = adapt(base.model, base.mean, base.std, hand.x, hand.y, self.replay(), self.recipe)
            return model
        finally:
            with self._lock:
                # Kept only if still wanted: not forgotten meanwhile, nor overtaken by newer digits.
                if self._pending.get(session, ("",))[0] == fingerprint:
                    del self._pending[session]
                    if model is not None:
                        self._keep(session, fingerprint, model, adapted_bytes(model, base.model))

    def _keep(self, session: str, fingerprint: str, model: MLP, size: int) -> None:
        """Cache the model, evicting the least recently used beyond the bounds (it too, if it alone is over)."""
        self._models[session] = (fingerprint, model, size)
        self._models.move_to_end(session)
        while self._models and (len(self._models) > self.limits.max_models or self.bytes > self.limits.max_mb * 1e6):
            self._models.popitem(last=False)

    def forget(self, session: str) -> None:
        """Drop the session's model (Forget my handwriting, or the session ended)."""
        with self._lock:
            self._models.pop(session, None)
            self._pending.pop(session, None)

    @property
    def bytes(self) -> int:
        return sum(size for _, _, size in self._models.values())

    def __len__(self) -> int:
        return len(self._models)


def _yield_cpu() -> None:
    """Lower the calling thread's priority (Linux gives each thread its own nice value), so that an
    adaptation takes the CPU the server's predictions leave; elsewhere it keeps the process's."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        try:
            me = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + NICENESS))
        except OSError:           # not permitted here: the adaptation runs at the server's priority
            pass
