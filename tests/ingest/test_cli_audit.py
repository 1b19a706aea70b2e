"""``tocsin ingest`` writes every import to the audit ledger, as the API does: a successful one
in the import's own transaction, a failed one separately; the chain still verifies."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from typer.testing import CliRunner

from tests.ingest.helpers import fixture
from tocsin.cli import app
from tocsin.ingest.runner import ingest_file
from tocsin.security import audit
from tocsin.store.db import make_engine
from tocsin.store.schema_security import audit_log


def _entries(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(audit_log).order_by(audit_log.c.seq)))
    finally:
        engine.dispose()


def test_tm_76_cli_import_is_audited_with_run_digest_and_counts(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("TOCSIN_DATABASE_URL", url)
    source = fixture("ucdp_ged_sample.csv")
    result = CliRunner().invoke(app, ["ingest", str(source), "--json"])
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(app, ["ingest", str(source), "--json"])
    assert again.exit_code == 0, again.output
    entries = _entries(url)
    assert [e.action for e in entries] == ["import.file", "import.file"]
    first = entries[0]
    assert first.actor.startswith("cli:")
    assert first.target.startswith("import_run:")
    details = json.loads(first.details)
    summary = json.loads(result.stdout)
    assert details["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert (details["read"], details["inserted"], details["rejected"]) == (
        summary["read"],
        summary["inserted"],
        summary["rejected"],
    )
    assert details["dataset"] == "ucdp_ged" and details["format"] == "ucdp"
    assert json.loads(entries[1].details)["inserted"] == 0  # a re-import is recorded too
    engine = make_engine(url)
    with engine.connect() as conn:
        assert audit.verify(conn, None).ok
    engine.dispose()


def test_tm_76_cli_failed_import_is_audited_and_stores_nothing(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("TOCSIN_DATABASE_URL", url)
    bad = tmp_path / "cut.json"
    bad.write_text('[{"SIND Event ID": 1, "Date": "2024-')
    result = CliRunner().invoke(app, ["ingest", str(bad), "--json"])
    assert result.exit_code == 1
    entries = _entries(url)
    assert [e.action for e in entries] == ["import.failed"]
    assert json.loads(entries[0].details)["sha256"] == hashlib.sha256(bad.read_bytes()).hexdigest()


def test_ingest_without_an_actor_leaves_the_ledger_to_the_caller(engine) -> None:
    """The API audits its own imports (it knows the uploader), so the runner adds nothing
    unless asked; a rolled-back import leaves no entry behind."""
    ingest_file(engine, fixture("ucdp_ged_sample.csv"))
    with engine.connect() as conn:
        assert conn.execute(select(audit_log)).first() is None
    ingest_file(engine, fixture("ucdp_ged_sample.csv"), audit_actor=audit.Actor("tester"))
    with engine.connect() as conn:
        rows = list(conn.execute(select(audit_log)))
    assert [(r.actor, r.action) for r in rows] == [("tester", "import.file")]
