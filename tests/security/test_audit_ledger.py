"""The audit ledger: append-only, hash-chained, signed checkpoints; tampering is detected and
the first broken entry is named (TM-05). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from tocsin.security import audit
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.txn import write_transaction

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def keys(tmp_path: Path) -> KeyRing:
    return KeyRing(tmp_path / "home")


def _fill(engine: Engine, n: int = 10) -> None:
    with write_transaction(engine) as conn:
        for i in range(n):
            audit.record(conn, Actor("ann", 7), "event.read", f"event:{i}", {"uids": [str(i)]}, NOW)


def _checkpoint(engine: Engine, keys: KeyRing, home: Path) -> audit.Checkpoint:
    with write_transaction(engine) as conn:
        cp = audit.take_checkpoint(conn, keys, NOW)
    assert cp is not None
    audit.publish_checkpoint(home, cp)
    return cp


def _verify(engine: Engine, keys: KeyRing, external: Path | None = None) -> audit.VerifyReport:
    with engine.connect() as conn:
        return audit.verify(conn, keys.verify_key(), external)


def _as_attacker(engine: Engine, *statements: str) -> None:
    """An attacker with the database owner's rights first drops the append-only triggers."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"))
        else:
            for name in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER audit_log_no_{name}"))
                conn.execute(text(f"DROP TRIGGER audit_checkpoints_no_{name}"))
        for statement in statements:
            conn.execute(text(statement))


def test_intact_chain_verifies(engine, keys) -> None:
    _fill(engine)
    _checkpoint(engine, keys, keys.dir.parent)
    report = _verify(engine, keys, audit.checkpoint_file(keys.dir.parent))
    assert report.ok, report.problem
    assert (report.entries, report.checkpoints) == (10, 1)


def test_entries_chain_on_each_other(engine) -> None:
    _fill(engine, 3)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, prev_hash, entry_hash FROM audit_log ORDER BY seq"))
        rows = list(rows)
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert rows[1].prev_hash == rows[0].entry_hash and rows[2].prev_hash == rows[1].entry_hash


def test_the_database_refuses_update_and_delete(engine) -> None:
    _fill(engine, 2)
    for statement in (
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM audit_log")) == 2


def test_tm05_edit_is_detected_at_the_edited_entry(engine, keys) -> None:
    _fill(engine)
    _as_attacker(engine, "UPDATE audit_log SET target = 'event:innocent' WHERE seq = 4")
    report = _verify(engine, keys)
    assert not report.ok
    assert report.first_broken_seq == 4
    assert "modified" in report.problem


def test_tm05_deletion_is_detected_at_the_gap(engine, keys) -> None:
    _fill(engine)
    _as_attacker(engine, "DELETE FROM audit_log WHERE seq = 6")
    report = _verify(engine, keys)
    assert report.first_broken_seq == 6
    assert "missing" in report.problem


def test_tm05_deletion_with_renumbering_is_detected(engine, keys) -> None:
    _fill(engine)
    _as_attacker(
        engine,
        "DELETE FROM audit_log WHERE seq = 6",
        "UPDATE audit_log SET seq = seq - 1 WHERE seq > 6",
    )
    report = _verify(engine, keys)
    assert report.first_broken_seq == 6


def test_tm05_reordering_is_detected(engine, keys) -> None:
    _fill(engine)
    _as_attacker(
        engine,
        "UPDATE audit_log SET seq = 1000 WHERE seq = 3",
        "UPDATE audit_log SET seq = 3 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = 1000",
    )
    report = _verify(engine, keys)
    assert report.first_broken_seq == 3


def test_tm05_truncation_is_detected_by_the_signed_checkpoint(engine, keys) -> None:
    _fill(engine)
    _checkpoint(engine, keys, keys.dir.parent)
    _as_attacker(engine, "DELETE FROM audit_log WHERE seq > 7")
    report = _verify(engine, keys)
    assert report.first_broken_seq == 8
    assert "truncated" in report.problem


def test_tm05_truncation_with_checkpoint_rows_deleted_is_caught_by_the_file(engine, keys) -> None:
    _fill(engine)
    _checkpoint(engine, keys, keys.dir.parent)
    _as_attacker(engine, "DELETE FROM audit_log WHERE seq > 7", "DELETE FROM audit_checkpoints")
    assert _verify(engine, keys).ok  # the database alone can no longer tell...
    report = _verify(engine, keys, audit.checkpoint_file(keys.dir.parent))
    assert report.first_broken_seq == 8  # ...the copy outside it can
    assert any("not in the database" in w for w in report.warnings)


def test_tm05_rewriting_the_whole_chain_breaks_the_signature_check(engine, keys) -> None:
    _fill(engine)
    _checkpoint(engine, keys, keys.dir.parent)
    # The attacker edits entry 2 and recomputes every hash after it: the chain is consistent
    # again, but no longer matches what was signed.
    with engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(text("SELECT * FROM audit_log ORDER BY seq"))]
    rows[1]["target"] = "event:innocent"
    prev = rows[0]["entry_hash"]
    statements = []
    for row in rows[1:]:
        row["prev_hash"] = prev
        row["entry_hash"] = audit.entry_hash(
            row["seq"],
            row["at"],
            row["actor_user_id"],
            row["actor"],
            row["action"],
            row["target"],
            row["details"],
            prev,
        )
        prev = row["entry_hash"]
        statements.append(
            f"UPDATE audit_log SET target = '{row['target']}', prev_hash = '{row['prev_hash']}', "
            f"entry_hash = '{row['entry_hash']}' WHERE seq = {row['seq']}"
        )
    _as_attacker(engine, *statements)
    report = _verify(engine, keys)
    assert not report.ok and report.first_broken_seq == 1
    assert "rewritten" in report.problem


def test_forged_checkpoint_signature_is_rejected(engine, keys, tmp_path: Path) -> None:
    _fill(engine, 3)
    other = KeyRing(tmp_path / "attacker")
    with write_transaction(engine) as conn:
        audit.take_checkpoint(conn, other, NOW)  # signed with a key we do not trust
    report = _verify(engine, keys)
    assert not report.ok and "invalid signature" in report.problem


def test_details_never_carry_secrets(engine) -> None:
    with pytest.raises(ValueError, match="must not carry"), write_transaction(engine) as conn:
        audit.record(conn, Actor.cli(), "user.create", "user:1", {"password": "hunter2"})
    with pytest.raises(ValueError), write_transaction(engine) as conn:
        audit.record(conn, Actor.cli(), "event.create", "event:1", {"x": [{"contact": "+1"}]})


def test_checkpoint_file_is_private_and_parsable(engine, keys) -> None:
    _fill(engine, 2)
    _checkpoint(engine, keys, keys.dir.parent)
    path = audit.checkpoint_file(keys.dir.parent)
    assert path.stat().st_mode & 0o077 == 0
    line = json.loads(path.read_text().splitlines()[0])
    assert line["seq"] == 2 and len(line["signature"]) == 128


def test_concurrent_appends_keep_one_linear_chain(engine) -> None:
    import threading

    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                with write_transaction(engine) as conn:
                    audit.record(conn, Actor(f"w{n}"), "event.read", f"event:{n}-{i}", {}, NOW)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with engine.connect() as conn:
        report = audit.verify(conn, None)
    assert report.ok and report.entries == 40
