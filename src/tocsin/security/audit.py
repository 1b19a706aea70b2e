"""The audit ledger: an append-only, hash-chained log with signed checkpoints.

Each entry stores the SHA-256 of the entry before it, and its own hash over everything it says
(sequence number included, so an entry cannot be moved). Editing, deleting or reordering an
entry therefore breaks the chain at that entry. Rewriting the whole chain from some point on
is caught by the checkpoints: every so often the head of the chain is signed with an Ed25519
key that lives outside the database (``tocsin.security.keys``), and the checkpoint is also
appended to ``$TOCSIN_HOME/audit/checkpoints.jsonl`` so that cutting entries off the end
(truncation) is caught even if the checkpoint rows are deleted too.

What the ledger cannot catch on its own: someone holding both the database and the signing
key, or the removal of entries written after the newest checkpoint that the attacker has also
removed from every copy of the checkpoint file. Ship the checkpoint file off the server.

Entries never hold passwords, secrets, names or contacts: they hold ids and field names.

Appending takes a lock so that the chain stays linear: a transaction-scoped advisory lock on
PostgreSQL; on SQLite the database write lock (callers that only read before appending may
see ``database is locked`` and must retry, which the API does by ordering its transactions).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey
from sqlalchemy import Connection, bindparam, func, insert, select, text

from tocsin.security.keys import KeyRing
from tocsin.store import dbapi
from tocsin.store.schema_security import audit_checkpoints, audit_log

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 7_242_011_001  # arbitrary, constant: "the audit chain"
_CHECKPOINT_DOMAIN = "tocsin-audit-checkpoint:v1"
_FORBIDDEN_DETAIL_WORDS = ("password", "secret", "totp", "contact", "persons")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a user (id and name), the command line, or the system itself."""

    label: str
    user_id: int | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def cli(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry in some containers
            who = str(os.getuid())
        return cls(f"cli:{who}")

    @classmethod
    def anonymous(cls) -> Actor:
        return cls("anonymous")


@dataclass(frozen=True, slots=True)
class PendingEntry:
    actor: Actor
    action: str
    target: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    actor_user_id: int | None
    actor: str
    action: str
    target: str
    details: str
    prev_hash: str
    entry_hash: str


def format_time(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: Mapping[str, Any]) -> str:
    for key in _walk_keys(details):
        if any(word in key.lower() for word in _FORBIDDEN_DETAIL_WORDS):
            raise ValueError(f"audit details must not carry {key!r}: log ids, not secrets")
    return json.dumps(details, sort_keys=True, separators=(",", ":"), default=str)


def _walk_keys(value: Any) -> Iterable[str]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _walk_keys(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _walk_keys(v)


def entry_hash(
    seq: int,
    at: str,
    actor_user_id: int | None,
    actor: str,
    action: str,
    target: str,
    details: str,
    prev_hash: str,
) -> str:
    payload = json.dumps(
        [seq, at, actor_user_id, actor, action, target, details, prev_hash],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# The chain's lock, head and insert run on the DB-API cursor of the caller's transaction
# (``store.dbapi``): every audited read appends, and SQLAlchemy's per-statement work cost more
# than these statements themselves.
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_HEAD = select(audit_log.c.seq, audit_log.c.entry_hash).order_by(audit_log.c.seq.desc()).limit(1)
_INSERT = insert(audit_log).values({c.name: bindparam(c.name) for c in audit_log.c})


def _lock_chain(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        dbapi.fetch_tuples(conn, _LOCK, {"k": _ADVISORY_LOCK_KEY})


def head(conn: Connection) -> tuple[int, str]:
    rows = dbapi.fetch_tuples(conn, _HEAD, {})
    return (rows[0][0], rows[0][1]) if rows else (0, GENESIS_HASH)


def append(
    conn: Connection, entries: Sequence[PendingEntry], now: datetime | None = None
) -> list[AuditEntry]:
    """Appends ``entries`` in the caller's transaction: they commit or roll back with it."""
    if not entries:
        return []
    at = format_time(now or datetime.now(UTC))
    rendered = [canonical_details(e.details) for e in entries]  # validate before locking
    _lock_chain(conn)
    seq, prev = head(conn)
    out: list[AuditEntry] = []
    for entry, details in zip(entries, rendered, strict=True):
        seq += 1
        digest = entry_hash(
            seq,
            at,
            entry.actor.user_id,
            entry.actor.label,
            entry.action,
            entry.target,
            details,
            prev,
        )
        out.append(
            AuditEntry(
                seq,
                at,
                entry.actor.user_id,
                entry.actor.label[:128],
                entry.action,
                entry.target[:255],
                details,
                prev,
                digest,
            )
        )
        prev = digest
    dbapi.execute_many(conn, _INSERT, [_row(e) for e in out])
    return out


def _row(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "actor_user_id": e.actor_user_id,
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "details": e.details,
        "prev_hash": e.prev_hash,
        "entry_hash": e.entry_hash,
    }


def record(
    conn: Connection,
    actor: Actor | str,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Writes one entry in the caller's transaction (the public entry point for other modules:
    ingest, intake, alerts). ``action`` is dotted, e.g. ``import.file``, ``event.update``."""
    who = actor if isinstance(actor, Actor) else Actor(actor)
    return append(conn, [PendingEntry(who, action, target, details or {})], now)[0]


# -- checkpoints ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    entry_hash: str
    at: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        return f"{_CHECKPOINT_DOMAIN}:{self.seq}:{self.entry_hash}:{self.at}".encode()

    def to_json(self) -> str:
        return json.dumps(
            {
                "seq": self.seq,
                "entry_hash": self.entry_hash,
                "at": self.at,
                "key_id": self.key_id,
                "signature": self.signature,
            },
            sort_keys=True,
        )


def checkpoint_file(home: Path) -> Path:
    return home / "audit" / "checkpoints.jsonl"


def last_checkpoint_seq(conn: Connection) -> int:
    return conn.scalar(select(func.max(audit_checkpoints.c.seq))) or 0


def take_checkpoint(
    conn: Connection, keys: KeyRing, now: datetime | None = None
) -> Checkpoint | None:
    """Signs the current head in the caller's transaction. ``None`` when the log is empty or
    the head is already checkpointed. Call ``publish_checkpoint`` after the commit."""
    _lock_chain(conn)
    seq, digest = head(conn)
    if seq == 0 or last_checkpoint_seq(conn) >= seq:
        return None
    signing = keys.signing_key()
    unsigned = Checkpoint(
        seq, digest, format_time(now or datetime.now(UTC)), signing.verify_key.encode().hex(), ""
    )
    signature = signing.sign(unsigned.message()).signature.hex()
    cp = Checkpoint(unsigned.seq, unsigned.entry_hash, unsigned.at, unsigned.key_id, signature)
    conn.execute(
        insert(audit_checkpoints),
        {
            "seq": cp.seq,
            "entry_hash": cp.entry_hash,
            "at": cp.at,
            "key_id": cp.key_id,
            "signature": cp.signature,
        },
    )
    return cp


def publish_checkpoint(home: Path, cp: Checkpoint) -> Path:
    """Appends a committed checkpoint to the file outside the database (mode 0600)."""
    path = checkpoint_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(cp.to_json() + "\n")
    return path


# -- verification -----------------------------------------------------------------------------


@dataclass(slots=True)
class VerifyReport:
    entries: int = 0
    checkpoints: int = 0
    first_broken_seq: int | None = None
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None and self.problem is None

    def flag(self, seq: int, problem: str) -> None:
        """Keeps the earliest break: that is the entry an investigator must look at first."""
        if self.first_broken_seq is None or seq < self.first_broken_seq:
            self.first_broken_seq = seq
            self.problem = problem

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "first_broken_seq": self.first_broken_seq,
            "problem": self.problem,
            "warnings": self.warnings,
        }


def read_checkpoint_file(path: Path) -> tuple[list[Checkpoint], list[str]]:
    if not path.exists():
        return [], []
    cps: list[Checkpoint] = []
    problems: list[str] = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            cps.append(
                Checkpoint(
                    int(obj["seq"]),
                    str(obj["entry_hash"]),
                    str(obj["at"]),
                    str(obj["key_id"]),
                    str(obj["signature"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            problems.append(f"{path}:{lineno} is not a checkpoint record")
    return cps, problems


def verify(
    conn: Connection,
    trusted_key: VerifyKey | None,
    external_file: Path | None = None,
) -> VerifyReport:
    """Walks the whole chain and every checkpoint; names the first broken entry.

    ``trusted_key`` is the public key checkpoints must be signed with (from the key file, or
    given on the command line when verifying a copy elsewhere); without it signatures are
    checked against the key each checkpoint names, which proves integrity but not authorship.
    """
    report = VerifyReport()
    cps = [
        Checkpoint(r.seq, r.entry_hash, r.at, r.key_id, r.signature)
        for r in conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq))
    ]
    if external_file is not None:
        extra, problems = read_checkpoint_file(external_file)
        report.warnings.extend(problems)
        known = {(c.seq, c.entry_hash, c.signature) for c in cps}
        in_db = {(c.seq, c.signature) for c in cps}
        for c in extra:
            if (c.seq, c.entry_hash, c.signature) not in known:
                if (c.seq, c.signature) not in in_db:
                    report.warnings.append(
                        f"checkpoint at entry {c.seq} is in {external_file.name} but not in "
                        "the database (checkpoint rows deleted?)"
                    )
                cps.append(c)
    report.checkpoints = len(cps)
    wanted: dict[int, list[Checkpoint]] = {}
    for cp in cps:
        if not _signature_ok(cp, trusted_key):
            report.flag(cp.seq, f"checkpoint at entry {cp.seq} has an invalid signature")
            continue
        wanted.setdefault(cp.seq, []).append(cp)

    expected_seq = 1
    prev = GENESIS_HASH
    good_checkpoint_seq = 0
    result = conn.execution_options(yield_per=2000).execute(
        select(audit_log).order_by(audit_log.c.seq)
    )
    for row in result:
        report.entries += 1
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                report.flag(
                    expected_seq,
                    f"entry {expected_seq} is missing: the log jumps from entry "
                    f"{expected_seq - 1} to {row.seq} (deleted)",
                )
            else:
                report.flag(row.seq, f"entry {row.seq} appears out of order")
            break
        if row.prev_hash != prev:
            report.flag(
                row.seq,
                f"entry {row.seq} does not follow entry {row.seq - 1} "
                "(an entry was deleted, inserted or reordered)",
            )
            break
        digest = entry_hash(
            row.seq,
            row.at,
            row.actor_user_id,
            row.actor,
            row.action,
            row.target,
            row.details,
            row.prev_hash,
        )
        if digest != row.entry_hash:
            report.flag(row.seq, f"entry {row.seq} was modified or moved (hash mismatch)")
            break
        for cp in wanted.get(row.seq, []):
            if cp.entry_hash != digest:
                report.flag(
                    good_checkpoint_seq + 1,
                    f"entries {good_checkpoint_seq + 1}..{row.seq} were rewritten: entry "
                    f"{row.seq} does not match its signed checkpoint",
                )
        if report.first_broken_seq is not None and report.first_broken_seq <= row.seq:
            break
        if row.seq in wanted:
            good_checkpoint_seq = row.seq
        prev = digest
        expected_seq += 1
    result.close()
    last_seq = expected_seq - 1
    beyond = [cp.seq for cp in cps if cp.seq > last_seq]
    if beyond and report.first_broken_seq is None:
        report.flag(
            last_seq + 1,
            f"the log ends at entry {last_seq} but a signed checkpoint covers entry "
            f"{max(beyond)}: entries {last_seq + 1}..{max(beyond)} were removed (truncated)",
        )
    if not cps and report.entries:
        report.warnings.append("no checkpoint yet: run `tocsin audit checkpoint`")
    return report


def _signature_ok(cp: Checkpoint, trusted_key: VerifyKey | None) -> bool:
    try:
        key = trusted_key or VerifyKey(bytes.fromhex(cp.key_id))
        if trusted_key is not None and cp.key_id != trusted_key.encode().hex():
            return False
        key.verify(cp.message(), bytes.fromhex(cp.signature))
    except (BadSignatureError, ValueError):
        return False
    return True
