"""Everything that leaves the building: the outbox, mail templates, delivery, scheduler jobs."""

from .outbox import enqueue

__all__ = ["enqueue"]
