"""The workflow engine: definitions as data, one shared state machine, the operations."""

from .labels import state_label

__all__ = ["state_label"]
