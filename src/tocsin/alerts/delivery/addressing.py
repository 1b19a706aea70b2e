"""Escalation deliveries address a *user*, not an address (TM-88).

A personal delivery row's target is ``directory:user:<id>``. The worker looks the address up in
the staff directory when it sends, so the outbox holds no copy of it; and a delivery that waits
(a retry, a queue backlog) goes to the user's address *at that moment*: a changed number gets
the message, an account disabled or an address removed meanwhile gets nothing and the row is
dead-lettered with the reason.
"""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import Connection

from tocsin.alerts.delivery.queue import DeliveryJob
from tocsin.alerts.delivery.senders import DeliveryError
from tocsin.alerts.directory import SealedContactError, address_of
from tocsin.security.keys import KeyRing

PREFIX = "directory:user:"
_TARGET = re.compile(r"^directory:user:([1-9][0-9]{0,9})$")


def user_target(user_id: int) -> str:
    if user_id < 1:
        raise ValueError("a user id is positive")
    return f"{PREFIX}{user_id}"


def target_user(target: str) -> int | None:
    """The user a target names, or None for an ordinary address."""
    match = _TARGET.match(target)
    return int(match.group(1)) if match else None


def resolve(conn: Connection, job: DeliveryJob, keys: KeyRing | None) -> DeliveryJob:
    """``job`` with its real address; raises a permanent ``DeliveryError`` when there is none.
    Jobs with an ordinary target come back unchanged."""
    if not job.target.startswith(PREFIX):
        return job
    user_id = target_user(job.target)
    if user_id is None:
        raise DeliveryError("malformed directory target", permanent=True)
    if keys is None:
        raise DeliveryError("this worker has no data key to open directory addresses")
    try:
        address = address_of(conn, user_id, job.kind, keys)
    except SealedContactError:
        # A wrong key, or a value copied from another row: never send to a guessed address.
        raise DeliveryError(
            f"the directory address of user {user_id} does not open with this data key",
            permanent=True,
        ) from None
    if address is None:
        raise DeliveryError(
            f"user {user_id} is disabled or has no {job.kind} address in the directory now",
            permanent=True,
        )
    return replace(job, target=address)
