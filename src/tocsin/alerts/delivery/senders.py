"""What every channel sender implements, and how it reports failure."""

from __future__ import annotations

from typing import Protocol

from tocsin.alerts.delivery.queue import DeliveryJob


class DeliveryError(Exception):
    """A failed attempt. ``permanent`` means retrying cannot help (bad address, 4xx refusal):
    the delivery goes straight to the dead-letter queue."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    def send(self, job: DeliveryJob) -> None:
        """Deliver once; raise ``DeliveryError`` (or anything else: treated as transient)."""
        ...
