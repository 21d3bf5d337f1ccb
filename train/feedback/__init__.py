"""Drawings labelled by the app's visitors: the folder format (folder.py), reading it as training
data (data.py), and `python -m train.feedback list|drop` for reviewers (__main__.py)."""
from .data import feedback_training
from .folder import IMAGES, LOCK, METADATA, FeedbackError, FeedbackItem, feedback_dir, folder_lock, read_feedback

__all__ = ["IMAGES", "LOCK", "METADATA", "FeedbackError", "FeedbackItem", "feedback_training", "feedback_dir", "folder_lock",
           "read_feedback"]
