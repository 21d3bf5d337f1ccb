"""Handwritten-digit recognition: the MLP, its checkpoints, MNIST-style preprocessing and inference."""
from .checkpoint import (DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint, read_metadata, save_checkpoint,
                         write_atomic)
from .inference import DigitRecognizer, Prediction
from .model import MLP, ModelConfig
from .preprocess import SIDE, ImageError, to_mnist

__all__ = ["MLP", "ModelConfig", "load_checkpoint", "save_checkpoint", "read_metadata", "CheckpointError",
           "DEFAULT_CHECKPOINT", "DigitRecognizer", "Prediction", "ImageError", "to_mnist", "SIDE", "write_atomic"]
