"""The second application of the policy: where records leave the system.

Every output (API JSON, CSV, GeoJSON, HXL, server-rendered pages) passes its records through
``redact_record`` first. A record outside the scope is dropped (even though the query should
never have returned it), and each forbidden field is deleted from the record, so that it is
absent from the output rather than blank.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any

from tocsin.security.policies import (
    FIELD_GROUP_KEYS,
    NEVER_EXPORTED,
    AccessScope,
    FieldGroup,
    protected_groups,
)

log = logging.getLogger(__name__)


class Channel(StrEnum):
    API = "api"  # one principal looking at records through the API or a page
    EXPORT = "export"  # files: CSV, GeoJSON, HXL


def forbidden_groups(
    tier: str, case_class: str, scope: AccessScope, channel: Channel
) -> set[FieldGroup]:
    forbidden = protected_groups(tier, case_class) - scope.fields
    if channel is Channel.EXPORT:
        forbidden |= NEVER_EXPORTED
    return forbidden


def redact_record(
    record: Mapping[str, Any],
    scope: AccessScope,
    channel: Channel,
    owner_user_id: int | None = None,
) -> dict[str, Any] | None:
    """A copy of ``record`` without the fields ``scope`` may not see; ``None`` if the record
    itself is out of scope. The record must carry ``sensitivity`` and ``case_class``."""
    try:
        tier = record["sensitivity"]
        case_class = record["case_class"]
    except KeyError as exc:  # fail closed: a record we cannot classify never leaves
        raise ValueError(f"record without {exc.args[0]!r} cannot be authorised") from exc
    if not scope.admits(tier, case_class, owner_user_id):
        # The query layer should never hand us such a record; if it does, it still stays in.
        log.error("record %s outside the caller's scope was dropped", record.get("uid"))
        return None
    out = dict(record)
    for group in forbidden_groups(tier, case_class, scope, channel):
        for key in FIELD_GROUP_KEYS[group]:
            out.pop(key, None)
    return out


def redact_records(
    records: Iterable[Mapping[str, Any]],
    scope: AccessScope,
    channel: Channel,
    owners: Mapping[str, int] | None = None,
) -> Iterator[dict[str, Any]]:
    """Redacts a stream of records; ``owners`` maps uid to creator for own-records scopes."""
    for record in records:
        owner = owners.get(record.get("uid", "")) if owners is not None else None
        out = redact_record(record, scope, channel, owner)
        if out is not None:
            yield out


def visible_columns(columns: Sequence[str], scope: AccessScope, channel: Channel) -> list[str]:
    """Columns of a tabular export that can carry a value for at least one record in scope.

    A column no record may show is left out of the file entirely; a column some records may
    show stays, and stays empty on the rows that may not.
    """
    hidden: set[str] = set()
    for group, keys in FIELD_GROUP_KEYS.items():
        if all(
            group in forbidden_groups(t, c, scope, channel)
            for t in scope.tiers
            for c in scope.case_classes
        ):
            hidden.update(keys)
    return [c for c in columns if c not in hidden]
