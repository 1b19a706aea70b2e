"""The verification workflow service on a real store (SQLite and PostGIS): one transaction per
action, optimistic locking, the ledger, incident links, suggestions and undoable merges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from tocsin.domain.entities import Event, Provenance
from tocsin.domain.grading import InformationCredibility as Cred
from tocsin.domain.grading import SourceReliability as Rel
from tocsin.domain.taxonomy import (
    ActType,
    CaseClass,
    LocationPrecision,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.intake import repository
from tocsin.intake.report import IntakeReport
from tocsin.security import audit
from tocsin.security.audit import Actor
from tocsin.security.keys import KeyRing
from tocsin.security.passwords import fast_passwords_for_tests
from tocsin.security.policies import Role
from tocsin.security.principal import Principal
from tocsin.security.txn import write_transaction
from tocsin.security.users import create_user
from tocsin.security.vault import Keyring, Pseudonymizer
from tocsin.store import schema as s
from tocsin.store.event_writer import EventWriter
from tocsin.store.queries import Scope, get_event
from tocsin.store.schema_security import audit_log
from tocsin.store.schema_verify import report_links
from tocsin.verify import service
from tocsin.verify.service import Access, MergeConflict, ReportNotFound, StaleVersion
from tocsin.verify.workflow import NotPermitted, ReportState, WorkflowError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEYRING = Keyring(b"k" * 32)
PSEUDO = Pseudonymizer(b"p" * 32)


def _user(engine: Engine, home: Path, name: str, role: Role) -> Principal:
    with write_transaction(engine) as conn:
        user, _ = create_user(
            conn,
            fast_passwords_for_tests(),
            KeyRing(home),
            username=name,
            display_name=name,
            role=role,
            password="plover-quantum-ledger-47",
            actor=Actor("test"),
            now=T0,
        )
    return Principal(user.id, user.username, user.role, "session")


def _report(n: int, **over: object) -> IntakeReport:
    fields: dict[str, object] = {
        "channel": "sms",
        "external_id": f"ext-{n}",
        "received_at": T0,
        "text": "Armed men attacked the market in Ndele, three people killed",
        "occurred_on": date(2026, 3, 1),
        "latitude": 8.41,
        "longitude": 20.65,
        "place_name": "Ndele",
        "threat": PocThreatCategory.ATTACK_ON_CIVILIANS,
        "act_types": (ActType.KILLING,),
        "killed": 3,
    }
    fields.update(over)
    return IntakeReport(**fields)  # type: ignore[arg-type]


def _submit(engine: Engine, report: IntakeReport) -> str:
    with write_transaction(engine) as conn:
        return repository.submit(
            conn, report, keyring=KEYRING, pseudonymizer=PSEUDO, now=T0
        ).report_id


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> dict[str, object]:
    return {
        "engine": engine,
        "analyst": _user(engine, tmp_path, "ana", Role.ANALYST),
        "analyst2": _user(engine, tmp_path, "ben", Role.ANALYST),
        "protection": _user(engine, tmp_path, "pro", Role.PROTECTION_OFFICER),
        "commander": _user(engine, tmp_path, "cmd", Role.COMMANDER),
        "reporter": _user(engine, tmp_path, "fre", Role.FIELD_REPORTER),
    }


def _ledger_actions(engine: Engine, report_id: str) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.scalars(
                select(audit_log.c.action)
                .where(audit_log.c.target == f"report:{report_id}")
                .order_by(audit_log.c.seq)
            )
        )


def _run(engine: Engine, fn, *args, **kwargs):  # noqa: ANN001, ANN202 - test helper
    with write_transaction(engine) as conn:
        return fn(conn, *args, **kwargs)


def test_full_workflow_every_transition_in_the_ledger(world: dict) -> None:
    engine, ana = world["engine"], world["analyst"]
    rid = _submit(engine, _report(1))
    case = _run(engine, service.triage, ana, rid, now=T0, expected_version=1)
    assert case.state is ReportState.TRIAGED and case.version == 2
    case = _run(
        engine,
        service.assign,
        ana,
        rid,
        assignee_user_id=world["analyst2"].user_id,
        now=T0,
        expected_version=2,
    )
    assert case.assignee == str(world["analyst2"].user_id)
    case = _run(
        engine,
        service.act,
        ana,
        rid,
        lambda wf, c, o: wf.comment(c, o, text="<script>x</script> call back", now=T0),
        expected_version=3,
    )
    case = _run(
        engine,
        service.act,
        ana,
        rid,
        lambda wf, c, o: wf.grade(c, o, reliability=Rel.B, credibility=Cred.PROBABLY_TRUE, now=T0),
        expected_version=4,
    )
    case = _run(
        engine,
        service.conclude,
        ana,
        rid,
        outcome=ReportState.VERIFIED,
        now=T0,
        expected_version=5,
    )
    assert case.state is ReportState.VERIFIED and case.version == 7
    case, uid = _run(engine, service.link, ana, rid, now=T0, expected_version=7)
    assert case.incident_id == uid
    with engine.connect() as conn:
        stored = repository.load_case(conn, rid)
        assert stored == case
        assert stored.comments[0].text == "<script>x</script> call back"
        event = get_event(conn, uid, Scope(frozenset(SensitivityTier), frozenset(CaseClass)))
        assert event is not None and event.event.provenance.dataset == service.REPORT_DATASET
        assert event.event.provenance.original_id == rid
        assert event.event.sources[0].reference == rid
        assert event.event.sources[0].reliability is Rel.B
        link = conn.execute(select(report_links).where(report_links.c.report_id == rid)).one()
        assert link.event_uid == uid and link.created_new
        report = audit.verify(conn, None)
        assert report.ok, report.problem
    assert _ledger_actions(engine, rid) == [
        "report.received",
        "report.triaged",
        "report.assigned",
        "report.commented",
        "report.graded",
        "report.verification_started",
        "report.verified",
        "report.linked",
    ]


def test_stale_version_is_refused_and_nothing_written(world: dict) -> None:
    engine, ana = world["engine"], world["analyst"]
    rid = _submit(engine, _report(2))
    _run(engine, service.triage, ana, rid, now=T0, expected_version=1)
    with pytest.raises(StaleVersion) as err:
        _run(engine, service.triage, ana, rid, now=T0, expected_version=1)
    assert err.value.current == 2
    assert _ledger_actions(engine, rid) == ["report.received", "report.triaged"]


def test_failed_action_rolls_back_case_and_ledger(world: dict) -> None:
    engine, ana = world["engine"], world["analyst"]
    rid = _submit(engine, _report(3))
    _run(engine, service.triage, ana, rid, now=T0, expected_version=1)
    # Verified needs a grade of credibility 1-2: refused after start_verification was
    # computed, but nothing of it may be stored.
    with pytest.raises(WorkflowError):
        _run(
            engine,
            service.conclude,
            ana,
            rid,
            outcome=ReportState.VERIFIED,
            now=T0,
            expected_version=2,
        )
    with engine.connect() as conn:
        assert repository.load_case(conn, rid).state is ReportState.TRIAGED
    assert _ledger_actions(engine, rid) == ["report.received", "report.triaged"]


def test_restricted_classes_are_routed_to_protection_only(world: dict) -> None:
    engine = world["engine"]
    rid = _submit(engine, _report(4, act_types=(ActType.SEXUAL_VIOLENCE,), threat=None))
    with engine.connect() as conn:
        case = repository.load_case(conn, rid)
        assert case.case_class is CaseClass.SEXUAL_VIOLENCE
        for who in ("analyst", "commander", "reporter"):
            with pytest.raises(ReportNotFound):
                service.load_visible(conn, world[who], rid)
        assert service.load_visible(conn, world["protection"], rid).access is Access.HANDLER
    with pytest.raises(ReportNotFound):
        _run(engine, service.triage, world["analyst"], rid, now=T0, expected_version=1)
    _run(engine, service.triage, world["protection"], rid, now=T0, expected_version=1)
    # Nor can it be assigned to an analyst.
    with pytest.raises(NotPermitted):
        _run(
            engine,
            service.assign,
            world["protection"],
            rid,
            assignee_user_id=world["analyst"].user_id,
            now=T0,
            expected_version=2,
        )


def test_commander_reads_but_cannot_act(world: dict) -> None:
    engine = world["engine"]
    rid = _submit(engine, _report(5))
    with engine.connect() as conn:
        assert service.load_visible(conn, world["commander"], rid).access is Access.READER
    with pytest.raises(NotPermitted):
        _run(engine, service.triage, world["commander"], rid, now=T0, expected_version=1)


def test_submitter_reads_back_own_report_only(world: dict) -> None:
    engine, rep = world["engine"], world["reporter"]
    mine = _submit(engine, _report(6, channel="field"))
    other = _submit(engine, _report(7, channel="field"))
    _run(engine, service.record_submitter, mine, rep.user_id, T0)
    with engine.connect() as conn:
        assert service.load_visible(conn, rep, mine).access is Access.SUBMITTER
        with pytest.raises(ReportNotFound):
            service.load_visible(conn, rep, other)
        assert service.own_report_ids(conn, rep.user_id, 10, None) == [mine]


def test_link_existing_incident_checks_scope_and_protection(world: dict) -> None:
    engine, ana = world["engine"], world["analyst"]
    first = _submit(engine, _report(8))
    second = _submit(engine, _report(9, external_id="ext-9b"))
    for rid in (first, second):
        _run(engine, service.triage, ana, rid, now=T0, expected_version=1)
        _run(
            engine,
            service.act,
            ana,
            rid,
            lambda wf, c, o: wf.grade(c, o, reliability=Rel.C, credibility=Cred.DOUBTFUL, now=T0),
            expected_version=2,
        )
        _run(
            engine,
            service.conclude,
            ana,
            rid,
            outcome=ReportState.UNVERIFIED,
            now=T0,
            expected_version=3,
        )
    _, uid = _run(engine, service.link, ana, first, now=T0, expected_version=5)
    with pytest.raises(ReportNotFound):
        _run(engine, service.link, ana, second, now=T0, expected_version=5, incident_uid="nope")
    case, same = _run(
        engine, service.link, ana, second, now=T0, expected_version=5, incident_uid=uid
    )
    assert same == uid and case.incident_id == uid
    with engine.connect() as conn:
        linked = service.linked_reports(conn, ana, uid)
        assert {v.case.report_id for v in linked} == {first, second}
        assert service.linked_reports(conn, world["reporter"], uid) == []
        assert conn.scalar(select(func.count()).select_from(s.events)) == 1


def test_suggestions_find_the_duplicate_with_score_and_reason(world: dict) -> None:
    engine, ana = world["engine"], world["analyst"]
    a = _submit(engine, _report(10))
    b = _submit(
        engine,
        _report(
            11,
            channel="web",
            text="Market of Ndele attacked by armed men, 3 killed",
            received_at=T0 + timedelta(hours=3),
        ),
    )
    _submit(
        engine,
        _report(
            12,
            text="Flooding destroyed crops near Bangui",
            latitude=4.36,
            longitude=18.55,
            place_name="Bangui",
            threat=None,
            act_types=(),
            killed=None,
        ),
    )
    hidden = _submit(engine, _report(13, act_types=(ActType.SEXUAL_VIOLENCE,), threat=None))
    with engine.connect() as conn:
        found = service.suggestions(conn, ana, a)
    ids = [f.candidate_id for f in found]
    assert ids and ids[0] == b
    assert hidden not in ids  # never compared against what the analyst may not see
    top = found[0]
    assert top.kind == "report" and top.relation == "corroboration"
    assert 0.0 < top.score <= 1.0 and top.reason


def test_merge_and_exact_undo(world: dict) -> None:
    engine, ana = world["engine"], world["analyst"]
    keep = _submit(engine, _report(20))
    dup = _submit(engine, _report(21))
    _run(engine, service.triage, ana, dup, now=T0, expected_version=1)
    with engine.connect() as conn:
        before = repository.load_case(conn, dup)
    record = _run(engine, service.merge, ana, keep, [dup], reason="same SMS twice", now=T0)
    with engine.connect() as conn:
        merged = repository.load_case(conn, dup)
        assert merged.state is ReportState.DISCARDED
        assert [m.merge_id for m in service.merges_of(conn, keep)] == [record.merge_id]
    _run(engine, service.undo_merge, ana, record.merge_id, now=T0)
    with engine.connect() as conn:
        back = repository.load_case(conn, dup)
        assert back.state is before.state and back.version == merged.version + 1
        assert service.merges_of(conn, keep)[0].undone_at is not None
        assert audit.verify(conn, None).ok
    with pytest.raises(service.MergeNotFound):
        _run(engine, service.undo_merge, ana, record.merge_id, now=T0)
    assert "report.unmerged" in _ledger_actions(engine, dup)


def test_undo_refuses_to_discard_later_changes(world: dict) -> None:
    engine, ana = world["engine"], world["analyst"]
    keep = _submit(engine, _report(30))
    dup = _submit(engine, _report(31))
    record = _run(engine, service.merge, ana, keep, [dup], reason="dup", now=T0)
    _run(
        engine,
        service.act,
        ana,
        dup,
        lambda wf, c, o: wf.reopen(c, o, reason="not the same after all", now=T0),
        expected_version=None,
    )
    with pytest.raises(MergeConflict):
        _run(engine, service.undo_merge, ana, record.merge_id, now=T0)
    _run(engine, service.undo_merge, ana, record.merge_id, now=T0, force=True)


def test_merge_refuses_bad_requests(world: dict) -> None:
    engine, ana = world["engine"], world["analyst"]
    keep = _submit(engine, _report(40))
    restricted = _submit(engine, _report(41, act_types=(ActType.SEXUAL_VIOLENCE,), threat=None))
    with pytest.raises(WorkflowError):
        _run(engine, service.merge, ana, keep, [keep], reason="x", now=T0)
    with pytest.raises(WorkflowError):
        _run(engine, service.merge, ana, keep, [], reason="x", now=T0)
    with pytest.raises(WorkflowError):
        _run(engine, service.merge, ana, keep, ["a"], reason="  ", now=T0)
    with pytest.raises(ReportNotFound):
        _run(engine, service.merge, ana, keep, [restricted], reason="x", now=T0)
    assert _ledger_actions(engine, keep) == ["report.received"]


def test_ledger_verifies_with_signed_checkpoint(world: dict, tmp_path: Path) -> None:
    engine, ana = world["engine"], world["analyst"]
    rid = _submit(engine, _report(50))
    _run(engine, service.triage, ana, rid, now=T0, expected_version=1)
    keys = KeyRing(tmp_path)
    with write_transaction(engine) as conn:
        audit.take_checkpoint(conn, keys, T0)
    with engine.connect() as conn:
        report = audit.verify(conn, keys.signing_key().verify_key)
    assert report.ok and report.checkpoints == 1


def test_suggestions_include_stored_incidents_nearby(world: dict) -> None:
    engine, ana = world["engine"], world["analyst"]
    rid = _submit(engine, _report(60))
    nearby = Event(
        provenance=Provenance("ucdp_ged", "777"),
        date_start=date(2026, 3, 1),
        date_end=date(2026, 3, 1),
        latitude=8.40,
        longitude=20.66,
        location_precision=LocationPrecision.EXACT,
        country_iso3="CAF",
        place_name="Ndele",
        violence_type=ViolenceType.ONE_SIDED,
        fatalities_best=3,
        description="Armed men attacked civilians at the market in Ndele, killing three",
    )
    restricted = Event(
        provenance=Provenance("ucdp_ged", "778"),
        date_start=date(2026, 3, 1),
        date_end=date(2026, 3, 1),
        latitude=8.40,
        longitude=20.66,
        location_precision=LocationPrecision.EXACT,
        place_name="Ndele",
        fatalities_best=3,
        description="Armed men attacked civilians at the market in Ndele, killing three",
        case_class=CaseClass.CHILDREN,
    )
    with write_transaction(engine) as conn:
        EventWriter(conn).write([nearby, restricted])
    with engine.connect() as conn:
        found = service.suggestions(conn, ana, rid)
    by_id = {f.candidate_id: f for f in found}
    assert nearby.uid in by_id and by_id[nearby.uid].kind == "event"
    assert by_id[nearby.uid].relation == "corroboration" and by_id[nearby.uid].reason
    assert restricted.uid not in by_id  # the analyst may not see children cases
