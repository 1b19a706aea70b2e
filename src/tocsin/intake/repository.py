"""Storing intake reports and their verification cases (tables in ``store/schema_intake.py``).

Every function works in the caller's transaction (``conn``) and never commits: a report, its
sealed contact, attachments, case row and audit entry are written together or not at all.
``tocsin.intake.service.IntakeService`` owns the transactions for the API and web routes.

- :func:`submit` seals the contact details into the vault first (nothing else ever sees them
  in clear), stores the keyed-hash pseudonym, the report, its attachments and its case
  (state ``received``, routed by ``report.case_class()``), and appends ``report.received`` to
  the audit ledger. It is idempotent on ``(channel, external_id)``: a gateway re-delivering a
  message gets the original report id back and no second receipt.
- :func:`load_case` / :func:`save_case` read and write the verification state with
  optimistic locking (``Case.version``); :func:`list_cases` pages the triage queue.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
)
from tocsin.intake.receipts import new_receipt_code, receipt_hash
from tocsin.intake.report import CHANNELS, IntakeReport
from tocsin.security import audit
from tocsin.security.vault import (
    ContactDetails,
    Keyring,
    Pseudonymizer,
    SealedContact,
    seal,
)
from tocsin.store.schema_intake import (
    intake_attachments,
    intake_contacts,
    intake_reports,
    report_cases,
    report_comments,
)
from tocsin.verify.workflow import DEFAULT_ROUTING, Case, Comment, ReportState, Workflow

# Last-line limits: channels validate first with friendlier messages; these stop anything
# that slipped through from reaching the database.
MAX_TEXT_CHARS = 20_000
MAX_SHORT_CHARS = 500
MAX_EXTERNAL_ID_CHARS = 200
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_COUNT = 1_000_000
INTAKE_ACTOR = audit.Actor("system:intake")
# Unicode category Cc (C0 and C1 controls, DEL) except tab, newline and carriage return.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class InvalidReport(ValueError):
    """The report cannot be stored as it is; the message says which field and why."""


class StaleCase(RuntimeError):
    """Someone else changed the case since it was loaded: reload it and try again."""


class CaseNotFound(LookupError):
    """No case for that report id."""


@dataclass(frozen=True)
class Stored:
    report_id: str
    receipt_code: str | None  # shown to the reporter once; None for duplicates and follow-ups
    duplicate: bool


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # never dump the bytes into a log
        return f"Attachment({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    filename: str
    content_type: str
    sha256: str
    size: int


@dataclass(frozen=True)
class StoredReport:
    """A report as stored: never the contact details (they stay sealed), only whether any
    were given and the reporter's pseudonym."""

    id: str
    report: IntakeReport
    reporter_pseudonym: str | None
    has_contact: bool
    parent_report_id: str | None
    created_at: datetime
    attachments: tuple[AttachmentInfo, ...]


class CaseCursor(NamedTuple):
    """Keyset position in the queue: the last case of the previous page."""

    received_at: datetime
    report_id: str

    @classmethod
    def of(cls, case: Case) -> CaseCursor:
        return cls(case.received_at, case.report_id)


# -- writing reports --------------------------------------------------------------------------


def submit(
    conn: Connection,
    report: IntakeReport,
    *,
    keyring: Keyring,
    pseudonymizer: Pseudonymizer,
    now: datetime,
    attachments: Sequence[Attachment] = (),
    parent_report_id: str | None = None,
    workflow: Workflow | None = None,
) -> Stored:
    """Stores one report with its case and audit entry in the caller's transaction.

    ``parent_report_id``: a follow-up the reporter added with their receipt code. It gets no
    receipt of its own (the original code keeps working) and is routed at least as
    restrictively as its parent.
    """
    stored, entry = submit_without_audit(
        conn,
        report,
        keyring=keyring,
        pseudonymizer=pseudonymizer,
        now=now,
        attachments=attachments,
        parent_report_id=parent_report_id,
        workflow=workflow,
    )
    if entry is not None:
        audit.append(conn, [entry], now)
    return stored


def submit_without_audit(
    conn: Connection,
    report: IntakeReport,
    *,
    keyring: Keyring,
    pseudonymizer: Pseudonymizer,
    now: datetime,
    attachments: Sequence[Attachment] = (),
    parent_report_id: str | None = None,
    workflow: Workflow | None = None,
) -> tuple[Stored, audit.PendingEntry | None]:
    """:func:`submit`, returning the audit entry for the caller to append (a batch writer
    appends the entries of many reports at once; they must still go in the same transaction)."""
    _require_aware(now, "now")
    files = validate(report, attachments)
    workflow = workflow or Workflow()
    parent = load_case(conn, parent_report_id) if parent_report_id else None
    if parent_report_id and parent is None:
        raise InvalidReport("the report this adds to does not exist")

    report_id = uuid.uuid4().hex
    code = None if parent_report_id else new_receipt_code()
    pseudonym = _pseudonym(report.contact, pseudonymizer)
    row = _report_row(report, report_id, now)
    row.update(
        reporter_pseudonym=pseudonym,
        receipt_hash=receipt_hash(code, pseudonymizer) if code else None,
        parent_report_id=parent_report_id,
    )
    if not _insert_if_new(conn, row):
        # The same message was stored before (a re-delivery), or a concurrent delivery won the
        # race (PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE): the original.
        original = _find_existing(conn, report.channel, report.external_id)
        if original is None:  # pragma: no cover - the conflicting row must be visible now
            raise RuntimeError("intake insert conflicted but no original report was found")
        return Stored(original, None, duplicate=True), None

    if report.contact is not None and _has_any(report.contact):
        sealed = seal(report.contact, record_id=report_id, keyring=keyring)
        conn.execute(
            _INSERT_CONTACT,
            {
                "report_id": report_id,
                "sealed": json.dumps(sealed.to_dict(), separators=(",", ":")),
                "kek_id": sealed.kek_id,
            },
        )
    if files:
        conn.execute(
            _INSERT_ATTACHMENT,
            [
                {
                    "report_id": report_id,
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "sha256": hashlib.sha256(a.data).hexdigest(),
                    "size": len(a.data),
                    "data": a.data,
                }
                for a in files
            ],
        )

    case_class = report.case_class()
    tier = DEFAULT_ROUTING.route(case_class).min_sensitivity
    if parent is not None and parent.case_class is not CaseClass.GENERAL:
        # A follow-up to a restricted case goes to the same people, whatever it says itself.
        case_class = parent.case_class
    if parent is not None and parent.sensitivity.rank > tier.rank:
        tier = parent.sensitivity
    received = _utc(report.received_at)
    case, event = workflow.receive(
        report_id,
        received_at=received,
        case_class=case_class,
        sensitivity=tier,
        channel=report.channel,
    )
    conn.execute(_INSERT_CASE, _case_row(case))
    details: dict[str, Any] = dict(event.details)
    if parent_report_id:
        details["follow_up_of"] = parent_report_id
    entry = audit.PendingEntry(INTAKE_ACTOR, event.action, f"report:{report_id}", details)
    return Stored(report_id, code, duplicate=False), entry


# Statements built once, executed with parameters: SQLAlchemy then reuses their compiled form
# (building a statement around each row's values costs more than the insert itself).
_INSERT_CONTACT = insert(intake_contacts)
_INSERT_ATTACHMENT = insert(intake_attachments)
_INSERT_CASE = insert(report_cases)
_INSERT_REPORT = {
    name: dialect.insert(intake_reports)
    .on_conflict_do_nothing(index_elements=["channel", "external_id"])
    .returning(intake_reports.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_FIND_EXISTING = select(intake_reports.c.id).where(
    intake_reports.c.channel == bindparam("channel"),
    intake_reports.c.external_id == bindparam("external_id"),
)


def _insert_if_new(conn: Connection, row: dict[str, Any]) -> bool:
    """Inserts the report unless its (channel, external_id) exists; True if inserted."""
    stmt = _INSERT_REPORT.get(conn.dialect.name)
    if stmt is None:  # pragma: no cover - make_engine accepts only these two
        raise RuntimeError(f"unsupported database {conn.dialect.name}")
    return conn.execute(stmt, row).first() is not None


def _find_existing(conn: Connection, channel: str, external_id: str) -> str | None:
    return conn.execute(
        _FIND_EXISTING, {"channel": channel, "external_id": external_id}
    ).scalar_one_or_none()


def _has_any(contact: ContactDetails) -> bool:
    return any(getattr(contact, k) for k in ("phone", "name", "email", "other"))


def _pseudonym(contact: ContactDetails | None, pseudonymizer: Pseudonymizer) -> str | None:
    """Same reporter, same pseudonym: by phone number, else e-mail. A bare name is no stable
    identifier (and would link different people), so it gets none."""
    if contact is None:
        return None
    if contact.phone and contact.phone.strip():
        return pseudonymizer.pseudonym(contact.phone, kind="phone")
    if contact.email and contact.email.strip():
        return pseudonymizer.pseudonym(contact.email, kind="email")
    return None


def _report_row(report: IntakeReport, report_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": report_id,
        "channel": report.channel,
        "external_id": report.external_id,
        "received_at": _utc(report.received_at),
        "occurred_on": report.occurred_on,
        "lat": report.latitude,
        "lon": report.longitude,
        "location_accuracy_m": report.location_accuracy_m,
        "place_name": report.place_name,
        "text": report.text,
        "threat": report.threat.value if report.threat else None,
        "act_types": json.dumps([a.value for a in report.act_types]),
        "perpetrator_kind": report.perpetrator_kind.value if report.perpetrator_kind else None,
        "perpetrator_name": report.perpetrator_name,
        "killed": report.killed,
        "injured": report.injured,
        "children_involved": None
        if report.children_involved is None
        else int(report.children_involved),
        "source_type": report.source_type,
        "language": report.language,
        "attachment_names": json.dumps(list(report.attachments)),
        "created_at": _utc(now),
    }


def validate(report: IntakeReport, attachments: Sequence[Attachment] = ()) -> list[Attachment]:
    """Raises :class:`InvalidReport` for a report or attachments that cannot be stored."""
    _validate_report(report)
    return _validate_attachments(attachments)


def _validate_report(report: IntakeReport) -> None:
    if report.channel not in CHANNELS:
        raise InvalidReport(f"unknown channel {report.channel!r}")
    if not report.external_id or len(report.external_id) > MAX_EXTERNAL_ID_CHARS:
        raise InvalidReport(f"external id must be 1-{MAX_EXTERNAL_ID_CHARS} characters")
    _check_text(report.text, "text", MAX_TEXT_CHARS, required=True)
    for name in ("place_name", "perpetrator_name", "source_type"):
        _check_text(getattr(report, name), name, MAX_SHORT_CHARS)
    if report.language is not None and (not report.language or len(report.language) > 16):
        raise InvalidReport("language must be a short language tag")
    if report.latitude is not None:
        lat, lon = report.latitude, report.longitude
        if not (math.isfinite(lat) and -90 <= lat <= 90):
            raise InvalidReport("latitude must be between -90 and 90")
        if lon is None or not (math.isfinite(lon) and -180 <= lon <= 180):
            raise InvalidReport("longitude must be between -180 and 180")
    acc = report.location_accuracy_m
    if acc is not None and not (math.isfinite(acc) and 0 <= acc <= 1e7):
        raise InvalidReport("location accuracy must be a distance in metres")
    for name in ("killed", "injured"):
        value = getattr(report, name)
        if value is not None and not (0 <= value <= MAX_COUNT):
            raise InvalidReport(f"{name} must be between 0 and {MAX_COUNT}")
    if report.occurred_on is not None and report.occurred_on.year < 1946:
        raise InvalidReport("the date is before 1946")
    if len(report.attachments) > MAX_ATTACHMENTS:
        raise InvalidReport(f"at most {MAX_ATTACHMENTS} attachments")


def _check_text(value: str | None, name: str, limit: int, *, required: bool = False) -> None:
    if value is None or not value.strip():
        if required:
            raise InvalidReport(f"{name} is empty")
        return
    if len(value) > limit:
        raise InvalidReport(f"{name} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise InvalidReport(f"{name} contains control characters")


def _validate_attachments(attachments: Sequence[Attachment]) -> list[Attachment]:
    files = list(attachments)
    if len(files) > MAX_ATTACHMENTS:
        raise InvalidReport(f"at most {MAX_ATTACHMENTS} attachments")
    for a in files:
        if not isinstance(a.data, bytes | bytearray):
            raise InvalidReport("attachment data must be bytes")
        if len(a.data) > MAX_ATTACHMENT_BYTES:
            raise InvalidReport(
                f"attachment {a.filename[:80]!r} is larger than {MAX_ATTACHMENT_BYTES} bytes"
            )
        _check_text(a.filename, "attachment filename", 255, required=True)
        _check_text(a.content_type, "attachment content type", 128, required=True)
    return files


# -- reading reports --------------------------------------------------------------------------


def load_report(conn: Connection, report_id: str) -> StoredReport | None:
    row = conn.execute(select(intake_reports).where(intake_reports.c.id == report_id)).first()
    if row is None:
        return None
    has_contact = (
        conn.execute(
            select(intake_contacts.c.report_id).where(intake_contacts.c.report_id == report_id)
        ).first()
        is not None
    )
    files = conn.execute(
        select(
            intake_attachments.c.id,
            intake_attachments.c.filename,
            intake_attachments.c.content_type,
            intake_attachments.c.sha256,
            intake_attachments.c.size,
        )
        .where(intake_attachments.c.report_id == report_id)
        .order_by(intake_attachments.c.id)
    ).all()
    m = row._mapping
    report = IntakeReport(
        channel=m["channel"],
        external_id=m["external_id"],
        received_at=_aware(m["received_at"]),
        text=m["text"],
        occurred_on=_as_date(m["occurred_on"]),
        latitude=m["lat"],
        longitude=m["lon"],
        location_accuracy_m=m["location_accuracy_m"],
        place_name=m["place_name"],
        threat=PocThreatCategory(m["threat"]) if m["threat"] else None,
        act_types=tuple(ActType(v) for v in json.loads(m["act_types"])),
        perpetrator_kind=ActorKind(m["perpetrator_kind"]) if m["perpetrator_kind"] else None,
        perpetrator_name=m["perpetrator_name"],
        killed=m["killed"],
        injured=m["injured"],
        children_involved=None if m["children_involved"] is None else bool(m["children_involved"]),
        source_type=m["source_type"],
        attachments=tuple(json.loads(m["attachment_names"])),
        language=m["language"],
    )
    return StoredReport(
        id=m["id"],
        report=report,
        reporter_pseudonym=m["reporter_pseudonym"],
        has_contact=has_contact,
        parent_report_id=m["parent_report_id"],
        created_at=_aware(m["created_at"]),
        attachments=tuple(AttachmentInfo(*f) for f in files),
    )


def load_attachment(conn: Connection, report_id: str, attachment_id: int) -> Attachment | None:
    row = conn.execute(
        select(
            intake_attachments.c.filename,
            intake_attachments.c.content_type,
            intake_attachments.c.data,
        ).where(
            intake_attachments.c.report_id == report_id,
            intake_attachments.c.id == attachment_id,
        )
    ).first()
    return None if row is None else Attachment(row[0], row[1], bytes(row[2]))


def load_sealed_contact(conn: Connection, report_id: str) -> SealedContact | None:
    """The sealed record, for ``vault.unseal`` (break-glass) or ``unseal_for_delivery``."""
    text = conn.execute(
        select(intake_contacts.c.sealed).where(intake_contacts.c.report_id == report_id)
    ).scalar_one_or_none()
    return None if text is None else SealedContact.from_dict(json.loads(text))


def find_by_receipt(conn: Connection, code: str, pseudonymizer: Pseudonymizer) -> str | None:
    """The report a receipt code belongs to, or ``None`` (also for anything malformed)."""
    digest = receipt_hash(code, pseudonymizer)
    if digest is None:
        return None
    return conn.execute(
        select(intake_reports.c.id).where(intake_reports.c.receipt_hash == digest)
    ).scalar_one_or_none()


def follow_ups(conn: Connection, report_id: str) -> list[str]:
    """Ids of the reports added to this one by receipt code, oldest first."""
    return list(
        conn.execute(
            select(intake_reports.c.id)
            .where(intake_reports.c.parent_report_id == report_id)
            .order_by(intake_reports.c.created_at, intake_reports.c.id)
        ).scalars()
    )


def reports_by_pseudonym(conn: Connection, pseudonym: str, *, limit: int = 100) -> list[str]:
    """Other reports from the same reporter (same pseudonym), newest first."""
    return list(
        conn.execute(
            select(intake_reports.c.id)
            .where(intake_reports.c.reporter_pseudonym == pseudonym)
            .order_by(intake_reports.c.received_at.desc(), intake_reports.c.id.desc())
            .limit(limit)
        ).scalars()
    )


# -- cases ------------------------------------------------------------------------------------


def load_case(conn: Connection, report_id: str) -> Case | None:
    row = conn.execute(select(report_cases).where(report_cases.c.report_id == report_id)).first()
    if row is None:
        return None
    comments = _comments_for(conn, [report_id]).get(report_id, ())
    return _case_from_row(row._mapping, comments)


def save_case(conn: Connection, case: Case, *, expected_version: int) -> None:
    """Writes a case changed by a ``Workflow`` action (and its new comments).

    Raises :class:`StaleCase` when the stored version is not ``expected_version`` (someone
    acted on the case meanwhile) and :class:`CaseNotFound` when there is no such case.
    """
    values = _case_row(case)
    del values["report_id"]
    result = conn.execute(
        update(report_cases)
        .where(
            report_cases.c.report_id == case.report_id,
            report_cases.c.version == expected_version,
        )
        .values(values)
    )
    if result.rowcount != 1:
        current = conn.execute(
            select(report_cases.c.version).where(report_cases.c.report_id == case.report_id)
        ).scalar_one_or_none()
        if current is None:
            raise CaseNotFound(f"no case for report {case.report_id}")
        raise StaleCase(
            f"report {case.report_id} changed meanwhile (version {current}, "
            f"expected {expected_version}); reload it and try again"
        )
    stored = conn.execute(
        select(func.count())
        .select_from(report_comments)
        .where(report_comments.c.report_id == case.report_id)
    ).scalar_one()
    if len(case.comments) < stored:
        raise StaleCase("comments cannot be removed from a case")
    new = case.comments[stored:]
    if new:
        conn.execute(
            insert(report_comments),
            [
                {
                    "report_id": case.report_id,
                    "seq": stored + i,
                    "author": c.author,
                    "at": _utc(c.at),
                    "text": c.text,
                }
                for i, c in enumerate(new)
            ],
        )


def list_cases(
    conn: Connection,
    *,
    states: Iterable[ReportState] | None = None,
    case_classes: Iterable[CaseClass] | None = None,
    tiers: Iterable[SensitivityTier] | None = None,
    limit: int = 50,
    after: CaseCursor | None = None,
) -> list[Case]:
    """The triage queue, oldest first, paged by keyset: pass ``CaseCursor.of(last case)``.

    Filters are allow-lists; an empty one matches nothing (a scope that allows no case class
    sees no case), ``None`` means no filter.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    stmt = select(report_cases)
    for column, allowed in (
        (report_cases.c.state, states),
        (report_cases.c.case_class, case_classes),
        (report_cases.c.sensitivity, tiers),
    ):
        if allowed is not None:
            values = sorted({v.value for v in allowed})
            if not values:
                return []
            stmt = stmt.where(column.in_(values))
    if after is not None:
        at = _utc(after.received_at)
        if conn.dialect.name == "postgresql":
            stmt = stmt.where(
                tuple_(report_cases.c.received_at, report_cases.c.report_id)
                > tuple_(at, after.report_id)
            )
        else:
            stmt = stmt.where(
                or_(
                    report_cases.c.received_at > at,
                    and_(
                        report_cases.c.received_at == at,
                        report_cases.c.report_id > after.report_id,
                    ),
                )
            )
    stmt = stmt.order_by(report_cases.c.received_at, report_cases.c.report_id).limit(limit)
    rows = [r._mapping for r in conn.execute(stmt)]
    comments = _comments_for(conn, [r["report_id"] for r in rows])
    return [_case_from_row(r, comments.get(r["report_id"], ())) for r in rows]


def _comments_for(conn: Connection, report_ids: list[str]) -> dict[str, tuple[Comment, ...]]:
    if not report_ids:
        return {}
    out: dict[str, list[Comment]] = {}
    rows = conn.execute(
        select(
            report_comments.c.report_id,
            report_comments.c.author,
            report_comments.c.at,
            report_comments.c.text,
        )
        .where(report_comments.c.report_id.in_(report_ids))
        .order_by(report_comments.c.report_id, report_comments.c.seq)
    )
    for rid, author, at, text in rows:
        out.setdefault(rid, []).append(Comment(author, _aware(at), text))
    return {k: tuple(v) for k, v in out.items()}


def _case_row(case: Case) -> dict[str, Any]:
    return {
        "report_id": case.report_id,
        "state": case.state.value,
        "case_class": case.case_class.value,
        "sensitivity": case.sensitivity.value,
        "received_at": _utc(case.received_at),
        "assignee": case.assignee,
        "due": _utc(case.due) if case.due else None,
        "reliability": case.reliability.value if case.reliability else None,
        "credibility": case.credibility.value if case.credibility else None,
        "incident_id": case.incident_id,
        "conclusion_note": case.conclusion_note,
        "version": case.version,
    }


def _case_from_row(m: Any, comments: tuple[Comment, ...]) -> Case:
    return Case(
        report_id=m["report_id"],
        state=ReportState(m["state"]),
        case_class=CaseClass(m["case_class"]),
        sensitivity=SensitivityTier(m["sensitivity"]),
        received_at=_aware(m["received_at"]),
        assignee=m["assignee"],
        due=_aware(m["due"]) if m["due"] is not None else None,
        reliability=SourceReliability(m["reliability"]) if m["reliability"] else None,
        credibility=InformationCredibility(m["credibility"]) if m["credibility"] else None,
        comments=comments,
        incident_id=m["incident_id"],
        conclusion_note=m["conclusion_note"],
        version=m["version"],
    )


# -- time -------------------------------------------------------------------------------------


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None:
        raise InvalidReport(f"{name} must be timezone-aware")


def _utc(moment: datetime) -> datetime:
    """Stored in UTC: SQLite keeps no offset, so every value must share one."""
    if moment.tzinfo is None:
        raise InvalidReport("times must be timezone-aware")
    return moment.astimezone(UTC)


def _aware(moment: datetime | str) -> datetime:
    if isinstance(moment, str):  # pragma: no cover - drivers return datetimes
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _as_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)  # pragma: no cover - drivers return dates
