"""Inputs whose value reaches the handler as it was sent. Gradio's own checks of a Dropdown, Radio,
Number or Slider value answer a malformed one with a bare "Error" or an English sentence that quotes it
whole (a visitor's 30 MB value came back 30 MB long); the handlers behind these check the value
themselves and refuse it in the visitor's language, quoted cut short."""
from __future__ import annotations


class AsSent:
    """Mixed in before a Gradio component: its preprocess hands the value on unchanged, and the page draws
    it with its Gradio parent's frontend (Gradio names a subclass's frontend after the subclass)."""

    def get_block_name(self) -> str:
        return next(c for c in type(self).__mro__ if c.__module__.startswith("gradio.")).__name__.lower()

    def preprocess(self, payload):
        return payload
