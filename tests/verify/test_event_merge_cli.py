"""``tocsin events merge`` / ``unmerge`` on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from tests.api.support import matrix_event
from tocsin.cli import app
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security.txn import write_transaction
from tocsin.store import schema as s
from tocsin.store.event_writer import EventWriter
from tocsin.store.schema_event_merges import event_merges
from tocsin.store.schema_security import audit_log


@pytest.fixture
def uids(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("TOCSIN_DATABASE_URL", db_url)
    a = matrix_event(SensitivityTier.INTERNAL, CaseClass.GENERAL, "cli-a")
    b = dataclasses.replace(
        matrix_event(SensitivityTier.RESTRICTED, CaseClass.GENERAL, "cli-b"), fatalities_best=4
    )
    with write_transaction(engine) as conn:
        EventWriter(conn).write([a, b])
    return {"a": a.uid, "b": b.uid}


def rows(engine: Engine) -> tuple[list[str], list[str], list[str]]:
    with engine.connect() as conn:
        events = sorted(conn.scalars(select(s.events.c.sensitivity)))
        merges = list(conn.scalars(select(event_merges.c.merge_id)))
        actions = [
            f"{actor}|{action}"
            for actor, action in conn.execute(
                select(audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.seq)
            )
            if action.startswith("event.merge")
        ]
    return events, merges, actions


def test_merge_and_unmerge_from_the_command_line(engine: Engine, uids: dict[str, str]) -> None:
    runner = CliRunner()
    merge = ["events", "merge", uids["a"], uids["b"], "--reason", "same attack"]
    # The default --max-tier (internal) does not reach the restricted duplicate: nothing done.
    refused = runner.invoke(app, merge)
    assert refused.exit_code == 2 and "no such event" in refused.output
    assert rows(engine) == (["internal", "restricted"], [], [])

    done = runner.invoke(app, [*merge, "--max-tier", "restricted"])
    assert done.exit_code == 0, done.output
    events, merges, actions = rows(engine)
    assert events == ["restricted"] and len(merges) == 1  # the survivor took the higher tier
    assert merges[0] in done.output
    assert [a.split("|")[1] for a in actions] == ["event.merge", "event.merged_into"]
    assert all(a.startswith("cli:") for a in actions)

    again = runner.invoke(app, [*merge, "--max-tier", "restricted"])
    assert again.exit_code == 2 and "already merged" in again.output

    undo = ["events", "unmerge", merges[0], "--max-tier", "restricted"]
    assert runner.invoke(app, undo).exit_code == 0
    assert rows(engine)[0] == ["internal", "restricted"]
    second = runner.invoke(app, undo)
    assert second.exit_code == 2 and "already undone" in second.output


def test_bad_input_is_a_clear_error(engine: Engine, uids: dict[str, str]) -> None:
    runner = CliRunner()
    for args, words in (
        (["events", "merge", uids["a"], uids["a"], "--reason", "x"], "itself"),
        (["events", "merge", uids["a"], uids["b"], "--reason", "   "], "reason"),
        (["events", "merge", uids["a"], "x" * 40, "--reason", "x"], "no such event"),
        (["events", "unmerge", "not-a-merge-id"], "no such merge"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output, (args, result.output)
    assert rows(engine) == (["internal", "restricted"], [], [])
