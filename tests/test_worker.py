"""Where the app's training runs (webapp.training.worker): the ZeroGPU decorator is a no-op off a Space, the
decorated training generator streams its events and honours Stop even from another process, as on
ZeroGPU, and on ZeroGPU the app trains through that generator instead of a process of its own."""
from __future__ import annotations

import inspect
import multiprocessing
import pickle
from dataclasses import replace

import pytest
import spaces

import webapp.training.slot as training_slot
import webapp.training.worker as worker
import webapp.training.zerogpu as zerogpu
from mnist_model import load_checkpoint
from train import DoneEvent, EpochEvent, StepEvent, TrainConfig


@pytest.fixture(scope="module")
def small(mnist):
    return replace(mnist, train_x=mnist.train_x[:4096], train_y=mnist.train_y[:4096])


def test_decorator_changes_nothing_off_a_space(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert spaces.config.Config.zero_gpu is False and zerogpu.ZERO_GPU is False
    assert inspect.isgeneratorfunction(zerogpu.train_on_gpu)
    assert not hasattr(zerogpu.train_on_gpu, "zerogpu"), "spaces would mark a ZeroGPU wrapper"


def test_reserved_gpu_time_grows_with_the_run_and_stays_capped(small, monkeypatch, tmp_path):
    flag = worker.StopFlag(tmp_path / "stop")
    short = zerogpu.gpu_seconds(TrainConfig(epochs=1), tmp_path, small, flag)
    long = zerogpu.gpu_seconds(TrainConfig(epochs=40, batch_size=32), tmp_path, small, flag)
    assert zerogpu.GPU_BASE_SECONDS < short < long
    monkeypatch.setenv("TRAIN_MAX_SECONDS", "120")
    assert zerogpu.gpu_seconds(TrainConfig(epochs=100, batch_size=1), tmp_path, small, flag) == 120


def test_decorated_generator_streams_events_in_order_and_stops(small, tmp_path):
    flag = worker.StopFlag(tmp_path / "stop")
    events = []
    for event in zerogpu.train_on_gpu(TrainConfig(epochs=3), tmp_path / "m.safetensors", small, flag):
        events.append(event)
        per_epoch = events[0].total_steps // 3
        if isinstance(event, StepEvent) and event.step == per_epoch + 8:     # mid second epoch
            flag.set()
    kinds = [type(e) for e in events]
    assert kinds.index(EpochEvent) == per_epoch and kinds[-1] is DoneEvent and kinds.count(DoneEvent) == 1
    assert [e.step for e in events if isinstance(e, StepEvent)] == list(range(1, per_epoch + 9))
    assert events[-1].stopped and load_checkpoint(events[-1].checkpoint)[1]["stopped"]


def _worker(config, out, data, flag, queue):
    for event in zerogpu.train_on_gpu(config, out, data, flag):
        queue.put(event)


def test_stop_reaches_a_training_process_that_got_pickled_arguments(small, tmp_path):
    """On ZeroGPU the run happens in a worker process that unpickles its arguments: the stop switch
    must still work there, which a threading.Event could not. (A spawned process pickles them too;
    forking here would inherit torch's thread pool mid-use, which can hang the child.)"""
    flag = worker.StopFlag(tmp_path / "stop")
    assert pickle.loads(pickle.dumps(flag)).path == flag.path
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_worker, args=(TrainConfig(epochs=50), tmp_path / "m.safetensors", small, flag, queue))
    child.start()
    try:
        events = [queue.get(timeout=120)]
        while not isinstance(events[-1], DoneEvent):
            if isinstance(events[-1], EpochEvent):
                flag.set()
            events.append(queue.get(timeout=120))
    finally:
        child.join(timeout=60)
        child.kill()
    done = events[-1]
    assert done.stopped and len(done.history) < 50
    _, info = load_checkpoint(done.checkpoint)       # written by the worker, read here
    assert info["stopped"] is True


def test_on_zero_gpu_the_app_trains_in_the_spaces_worker_not_a_process_of_its_own(small, monkeypatch, tmp_path):
    """spaces.GPU already runs train_on_gpu in a worker process there; a second process would only add
    a start-up and another copy of MNIST. (Off a Space the app's runs use a child process: see
    tests/test_training_slot.py.)"""
    monkeypatch.setenv("RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setattr(training_slot, "ZERO_GPU", True)
    monkeypatch.setattr(training_slot, "load_mnist", lambda **_: small)
    real, calls = zerogpu.train_on_gpu, []
    monkeypatch.setattr(training_slot, "train_on_gpu", lambda *args: calls.append(args) or real(*args))
    children = set()
    for snap in training_slot.run_training(training_slot.TrainingSlot(), TrainConfig(epochs=1, styles=0.0), "alice"):
        children.update(multiprocessing.active_children())
    assert len(calls) == 1 and not children
    assert snap.done.checkpoint is not None and snap.phase == "finished"
