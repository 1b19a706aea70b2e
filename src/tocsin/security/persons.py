"""Identifying personal data linked to events (victims, witnesses, sources as people).

Stored apart from ``events`` and encrypted with the data key (``tocsin.security.keys``), each
value bound to its event uid so that a ciphertext moved to another event does not decrypt.
Only code that has checked the ``persons`` field group should call ``load``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, delete, insert, select

from tocsin.security.keys import KeyRing
from tocsin.store.schema_security import event_persons


class PersonRole(StrEnum):
    VICTIM = "victim"
    WITNESS = "witness"
    SOURCE = "source"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Person:
    role: PersonRole
    name: str
    contact: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"role": self.role.value, "name": self.name, "contact": self.contact}


def _context(event_uid: str, column: str) -> str:
    return f"event:{event_uid}:person:{column}"


def replace(
    conn: Connection, keys: KeyRing, event_id: int, event_uid: str, people: Sequence[Person]
) -> None:
    conn.execute(delete(event_persons).where(event_persons.c.event_id == event_id))
    rows = [
        {
            "event_id": event_id,
            "position": i,
            "role": p.role.value,
            "name_enc": keys.encrypt(p.name, _context(event_uid, "name")),
            "contact_enc": None
            if p.contact is None
            else keys.encrypt(p.contact, _context(event_uid, "contact")),
        }
        for i, p in enumerate(people)
    ]
    if rows:
        conn.execute(insert(event_persons), rows)


def load(
    conn: Connection, keys: KeyRing, events: Sequence[tuple[int, str]]
) -> dict[int, list[Person]]:
    """Persons per event id, for ``(event_id, event_uid)`` pairs."""
    uids = dict(events)
    found: dict[int, list[Person]] = defaultdict(list)
    ids = list(uids)
    for i in range(0, len(ids), 500):
        rows = conn.execute(
            select(event_persons)
            .where(event_persons.c.event_id.in_(ids[i : i + 500]))
            .order_by(event_persons.c.event_id, event_persons.c.position)
        )
        for row in rows:
            uid = uids[row.event_id]
            found[row.event_id].append(
                Person(
                    PersonRole(row.role),
                    keys.decrypt(row.name_enc, _context(uid, "name")),
                    None
                    if row.contact_enc is None
                    else keys.decrypt(row.contact_enc, _context(uid, "contact")),
                )
            )
    return found
