"""ZeroGPU glue: on a ZeroGPU Space, `spaces.GPU` runs `train_on_gpu` in a worker process with a GPU
attached only while it runs; elsewhere the decorator returns the function unchanged. Kept apart from
webapp.training.worker so that the app's own training process never imports `spaces`."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

import numpy as np
import spaces

from train import Event, MnistSplits, StopSignal, TrainConfig, planned_steps, train

from ..guards.limits import ServerLimits

GPU_BASE_SECONDS = 30       # ZeroGPU reservation: MNIST to the GPU, testing, saving...
GPU_STEP_SECONDS = 0.004    # ...plus this per optimiser step (a step of this MLP takes a few ms on a GPU)
ZERO_GPU = spaces.config.Config.zero_gpu   # on a ZeroGPU Space (SPACES_ZERO_GPU), where spaces.GPU wraps train_on_gpu


def gpu_seconds(config: TrainConfig, out: Path, data: MnistSplits, stop: StopSignal,
                probe: np.ndarray | None = None) -> int:
    """ZeroGPU time to reserve for this run (same arguments as train_on_gpu): sized from its steps
    so a short run does not spend a visitor's daily GPU quota on a long reservation."""
    steps = planned_steps(config, data) * config.step_cost()     # a larger network's steps take longer
    return math.ceil(min(GPU_BASE_SECONDS + steps * GPU_STEP_SECONDS, ServerLimits.from_env().max_seconds))


@spaces.GPU(duration=gpu_seconds)
def train_on_gpu(config: TrainConfig, out: Path, data: MnistSplits, stop: StopSignal,
                 probe: np.ndarray | None = None) -> Iterator[Event]:
    """The engine's run. On a ZeroGPU Space, a GPU is attached only while this generator runs and its
    events are pickled back as they come, so the plots still stream; elsewhere `spaces.GPU` returns
    this function unchanged and `device="auto"` picks a local GPU if there is one."""
    yield from train(config, out=out, data=data, stop=stop, probe=probe)
