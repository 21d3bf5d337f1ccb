"""Handwritten-digit recognition: the MLP, its checkpoints, MNIST-style preprocessing and inference."""
from .checkpoint import DEFAULT_CHECKPOINT, CheckpointError, load_checkpoint, read_metadata, save_checkpoint
from .model import MLP, ModelConfig

__all__ = ["MLP", "ModelConfig", "load_checkpoint", "save_checkpoint", "read_metadata", "CheckpointError",
           "DEFAULT_CHECKPOINT"]
