"""Training: MNIST as tensors, batch augmentation, the event-yielding engine and its CLI."""
from .config import TrainConfig
from .data import DataError, MnistSplits, load_mnist
from .engine import DoneEvent, EpochEvent, StepEvent, train

__all__ = ["TrainConfig", "train", "load_mnist", "MnistSplits", "DataError", "StepEvent", "EpochEvent",
           "DoneEvent"]
