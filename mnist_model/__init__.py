"""Handwritten-digit recognition: the MLP, its checkpoints, MNIST-style preprocessing and inference."""
from .checkpoint import DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from .explain import Explanation, Unit, unit
from .inference import DigitRecognizer, Prediction
from .model import MLP, ModelConfig
from .neighbours import Neighbour, TrainingDigits
from .preprocess import ImageError, to_mnist

__all__ = ["MLP", "ModelConfig", "load_checkpoint", "save_checkpoint", "read_metadata", "CheckpointError",
           "DEFAULT_CHECKPOINT", "DigitRecognizer", "Prediction", "ImageError", "to_mnist",
           "Explanation", "Unit", "unit", "Neighbour", "TrainingDigits"]
