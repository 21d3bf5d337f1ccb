"""Training: MNIST as tensors, batch augmentation, the event-yielding engine and its CLI."""
from .config import TrainConfig
from .data import DataError, MnistSplits, load_mnist
from .engine import planned_steps, train, with_styles
from .events import DoneEvent, EpochEvent, Event, Misread, StepEvent, StopSignal

__all__ = ["TrainConfig", "train", "planned_steps", "load_mnist", "MnistSplits", "DataError", "Event", "StepEvent",
           "EpochEvent", "DoneEvent", "Misread", "StopSignal", "with_styles"]
