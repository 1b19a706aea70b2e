"""Intake storage: sealing, pseudonyms, receipts, idempotency, cases and atomic writes.

Runs on SQLite and PostGIS (``engine`` fixture)."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActType,
    CaseClass,
    PocThreatCategory,
    SensitivityTier,
)
from tocsin.intake import repository as repo
from tocsin.intake.receipts import ALPHABET, new_receipt_code, normalize_receipt
from tocsin.intake.report import IntakeReport
from tocsin.intake.service import IntakeService, load_intake_keys
from tocsin.security.audit import audit_log
from tocsin.security.txn import write_transaction
from tocsin.security.vault import (
    ContactDetails,
    Keyring,
    Pseudonymizer,
    generate_key,
    unseal,
)
from tocsin.store.schema_intake import (
    intake_attachments,
    intake_contacts,
    intake_reports,
    report_cases,
    report_comments,
)
from tocsin.verify.workflow import Officer, ReportState, Role, Workflow

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
PHONE = "+236 72 55 01 99"
KEYRING = Keyring(current=generate_key())
PSEUDO = Pseudonymizer(generate_key())
INTAKE_TABLES = (intake_reports, intake_contacts, intake_attachments, report_cases)


def make_report(**overrides) -> IntakeReport:
    fields = {
        "channel": "web",
        "external_id": "web:0001",
        "received_at": NOW,
        "text": "Armed men burned houses near the market at dawn.",
        "occurred_on": date(2026, 11, 19),
        "latitude": 4.36,
        "longitude": 18.56,
        "place_name": "Bangui, PK5",
        "threat": PocThreatCategory.ATTACK_ON_CIVILIANS,
        "act_types": (ActType.PROPERTY_DESTRUCTION,),
        "killed": 2,
        "language": "fr",
        "contact": ContactDetails(phone=PHONE, name="Amina Yakité"),
    }
    fields.update(overrides)
    return IntakeReport(**fields)


def put(conn, report: IntakeReport, **kw) -> repo.Stored:
    return repo.submit(conn, report, keyring=KEYRING, pseudonymizer=PSEUDO, now=NOW, **kw)


def all_cells(conn) -> list[str]:
    """Every stored value of every intake table, as text (for scanning for leaks)."""
    cells = []
    for table in (*INTAKE_TABLES, report_comments, audit_log):
        for row in conn.execute(select(table)):
            for value in row:
                if isinstance(value, bytes | memoryview):
                    cells.append(bytes(value).decode("latin-1"))
                elif value is not None:
                    cells.append(str(value))
    return cells


def count(conn, table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_submit_stores_report_case_and_audit_entry(engine) -> None:
    with write_transaction(engine) as conn:
        stored = put(conn, make_report())
    assert not stored.duplicate
    assert normalize_receipt(stored.receipt_code) is not None
    with engine.connect() as conn:
        loaded = repo.load_report(conn, stored.report_id)
        case = repo.load_case(conn, stored.report_id)
        entries = conn.execute(select(audit_log.c.action, audit_log.c.target)).all()
    assert loaded is not None and case is not None
    assert loaded.report.text == make_report().text
    assert loaded.report.contact is None  # contact never comes back out of the store
    assert loaded.has_contact
    assert loaded.reporter_pseudonym == PSEUDO.pseudonym(PHONE)
    assert loaded.report.received_at == NOW
    assert loaded.report.occurred_on == date(2026, 11, 19)
    assert loaded.report.act_types == (ActType.PROPERTY_DESTRUCTION,)
    assert loaded.report.killed == 2
    assert case.state is ReportState.RECEIVED
    assert case.case_class is CaseClass.GENERAL
    assert case.sensitivity is SensitivityTier.INTERNAL
    assert case.due == NOW + timedelta(hours=72)
    assert ("report.received", f"report:{stored.report_id}") in entries


def test_tm_20_contact_is_sealed_and_no_phone_in_any_table(engine) -> None:
    with write_transaction(engine) as conn:
        stored = put(conn, make_report(contact=ContactDetails(phone=PHONE, email="a@b.example")))
    digits = PHONE.replace(" ", "")
    with engine.connect() as conn:
        cells = all_cells(conn)
        sealed = repo.load_sealed_contact(conn, stored.report_id)
    for needle in (PHONE, digits, digits[1:], "72550199", "a@b.example", "Amina"):
        assert not any(needle in cell for cell in cells), needle
    assert sealed is not None
    contact, event = unseal(
        sealed, KEYRING, actor="officer-7", reason="reporter asked to be called back", now=NOW
    )
    assert contact.phone == PHONE
    assert event.action == "vault.unsealed"


def test_no_contact_gives_no_pseudonym_and_no_sealed_row(engine) -> None:
    with write_transaction(engine) as conn:
        stored = put(conn, make_report(contact=None))
        empty = put(conn, make_report(external_id="web:0002", contact=ContactDetails()))
    with engine.connect() as conn:
        assert repo.load_sealed_contact(conn, stored.report_id) is None
        assert repo.load_sealed_contact(conn, empty.report_id) is None
        assert repo.load_report(conn, stored.report_id).reporter_pseudonym is None
        assert not repo.load_report(conn, empty.report_id).has_contact


def test_same_reporter_same_pseudonym(engine) -> None:
    with write_transaction(engine) as conn:
        a = put(conn, make_report(contact=ContactDetails(phone="+23672550199")))
        b = put(
            conn,
            make_report(external_id="web:0002", contact=ContactDetails(phone="00236 72-55-01-99")),
        )
        c = put(conn, make_report(external_id="web:0003", contact=ContactDetails(phone="+1555")))
    with engine.connect() as conn:
        pa = repo.load_report(conn, a.report_id).reporter_pseudonym
        same = repo.reports_by_pseudonym(conn, pa)
        assert pa == repo.load_report(conn, b.report_id).reporter_pseudonym
        assert pa != repo.load_report(conn, c.report_id).reporter_pseudonym
    assert set(same) == {a.report_id, b.report_id}


def test_tm_28_redelivery_is_idempotent(engine) -> None:
    with write_transaction(engine) as conn:
        first = put(conn, make_report(channel="sms", external_id="twilio:SM1"))
    with write_transaction(engine) as conn:
        again = put(conn, make_report(channel="sms", external_id="twilio:SM1", text="changed"))
        other_channel = put(conn, make_report(channel="odk", external_id="twilio:SM1"))
    assert again == repo.Stored(first.report_id, None, duplicate=True)
    assert not other_channel.duplicate
    with engine.connect() as conn:
        assert count(conn, intake_reports) == 2
        assert count(conn, report_cases) == 2
        assert count(conn, intake_contacts) == 2
        assert repo.load_report(conn, first.report_id).report.text == make_report().text


def test_tm_23_receipt_codes_are_typable_and_only_hashed(engine) -> None:
    with write_transaction(engine) as conn:
        stored = put(conn, make_report())
    code = stored.receipt_code
    assert len(code) == 19 and code.count("-") == 3
    assert all(ch in ALPHABET for ch in code.replace("-", ""))
    sloppy = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    with engine.connect() as conn:
        assert repo.find_by_receipt(conn, code, PSEUDO) == stored.report_id
        assert repo.find_by_receipt(conn, sloppy, PSEUDO) == stored.report_id
        assert repo.find_by_receipt(conn, new_receipt_code(), PSEUDO) is None
        assert repo.find_by_receipt(conn, "not a code", PSEUDO) is None
        assert repo.find_by_receipt(conn, "' OR 1=1 --", PSEUDO) is None
        # Another deployment's pseudonym key cannot use the stored hashes.
        assert repo.find_by_receipt(conn, code, Pseudonymizer(generate_key())) is None
        cells = all_cells(conn)
    raw = code.replace("-", "")
    assert not any(raw in cell or code in cell for cell in cells)


def test_receipt_codes_differ() -> None:
    codes = {new_receipt_code() for _ in range(2000)}
    assert len(codes) == 2000


def test_follow_up_links_to_parent_and_inherits_restricted_route(engine) -> None:
    with write_transaction(engine) as conn:
        parent = put(conn, make_report(act_types=(ActType.SEXUAL_VIOLENCE,)))
        follow = put(
            conn,
            make_report(external_id="web:0002", act_types=(), threat=None, contact=None),
            parent_report_id=parent.report_id,
        )
    assert follow.receipt_code is None and not follow.duplicate
    with engine.connect() as conn:
        case = repo.load_case(conn, follow.report_id)
        assert repo.load_report(conn, follow.report_id).parent_report_id == parent.report_id
        assert repo.follow_ups(conn, parent.report_id) == [follow.report_id]
    assert case.case_class is CaseClass.SEXUAL_VIOLENCE
    assert case.sensitivity is SensitivityTier.RESTRICTED


def test_follow_up_of_unknown_report_is_refused(engine) -> None:
    with pytest.raises(repo.InvalidReport, match="does not exist"), write_transaction(engine) as c:
        put(c, make_report(), parent_report_id="0" * 32)
    with engine.connect() as conn:
        assert count(conn, intake_reports) == 0


ROUTED = [
    ({"perpetrator_kind": ActorKind.MISSION_PERSONNEL}, "mission_personnel_misconduct", "c"),
    ({"children_involved": True}, "children", "r"),
    ({"threat": PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE}, "sexual_violence", "r"),
]


def test_case_routed_by_content(engine) -> None:
    with write_transaction(engine) as conn:
        for i, (overrides, case_class, tier) in enumerate(ROUTED):
            stored = put(conn, make_report(external_id=f"web:r{i}", **overrides))
            case = repo.load_case(conn, stored.report_id)
            assert case.case_class.value == case_class
            assert case.sensitivity.value.startswith(tier)


def test_attachments_stored_with_hash(engine) -> None:
    photo = repo.Attachment("photo.jpg", "image/jpeg", b"\xff\xd8\xff" + bytes(range(256)) * 40)
    with write_transaction(engine) as conn:
        stored = put(conn, make_report(attachments=("photo.jpg",)), attachments=[photo])
    with engine.connect() as conn:
        loaded = repo.load_report(conn, stored.report_id)
        (info,) = loaded.attachments
        assert info.size == len(photo.data) and len(info.sha256) == 64
        assert repo.load_attachment(conn, stored.report_id, info.id) == photo
        assert repo.load_attachment(conn, "other", info.id) is None
    assert loaded.report.attachments == ("photo.jpg",)


INVALID = [
    ({"text": "  "}, "text is empty"),
    ({"text": "x" * (repo.MAX_TEXT_CHARS + 1)}, "longer than"),
    ({"text": "bell\x07"}, "control characters"),
    ({"latitude": 91.0, "longitude": 0.0}, "latitude"),
    ({"latitude": 1.0, "longitude": float("nan")}, "longitude"),
    ({"killed": -1}, "killed"),
    ({"external_id": ""}, "external id"),
    ({"place_name": "p" * 501}, "place_name"),
    ({"occurred_on": date(1900, 1, 1)}, "1946"),
]


def test_tm_27_invalid_reports_are_refused_with_a_clear_error(engine) -> None:
    for overrides, message in INVALID:
        with pytest.raises(repo.InvalidReport, match=message), write_transaction(engine) as c:
            put(c, make_report(**overrides))
    with engine.connect() as conn:
        assert count(conn, intake_reports) == 0


def test_tm_27_oversized_attachment_refused(engine) -> None:
    big = repo.Attachment("big.bin", "application/octet-stream", b"0" * (10 * 1024 * 1024 + 1))
    with pytest.raises(repo.InvalidReport, match="larger than"), write_transaction(engine) as c:
        put(c, make_report(), attachments=[big])


def test_tm_26_nothing_half_written_when_a_write_fails(engine, monkeypatch) -> None:
    """The case insert fails after the report, contact and attachment rows were written."""
    real = repo._case_row

    def failing(case):
        raise OSError("disk full")

    monkeypatch.setattr(repo, "_case_row", failing)
    photo = repo.Attachment("a.png", "image/png", b"\x89PNG....")
    with pytest.raises(OSError), write_transaction(engine) as conn:
        put(conn, make_report(), attachments=[photo])
    monkeypatch.setattr(repo, "_case_row", real)
    with engine.connect() as conn:
        for table in (*INTAKE_TABLES, audit_log):
            assert count(conn, table) == 0, table.name


def test_save_case_with_optimistic_lock_and_comments(engine) -> None:
    with write_transaction(engine) as conn:
        stored = put(conn, make_report())
    officer = Officer("officer-1", frozenset({Role.ANALYST}))
    flow = Workflow()
    with engine.connect() as conn:
        case = repo.load_case(conn, stored.report_id)
    triaged, _ = flow.triage(case, officer, now=NOW)
    noted, _ = flow.comment(triaged, officer, text="<script>alert(1)</script> call back", now=NOW)
    graded, _ = flow.grade(
        noted,
        officer,
        reliability=SourceReliability.C,
        credibility=InformationCredibility.POSSIBLY_TRUE,
        now=NOW,
    )
    with write_transaction(engine) as conn:
        repo.save_case(conn, graded, expected_version=case.version)
    with engine.connect() as conn:
        reloaded = repo.load_case(conn, stored.report_id)
    assert reloaded == graded
    # A second officer who loaded the old version cannot overwrite.
    other, _ = flow.triage(case, officer, now=NOW)
    with pytest.raises(repo.StaleCase, match="changed meanwhile"), write_transaction(engine) as c:
        repo.save_case(c, other, expected_version=case.version)
    with pytest.raises(repo.CaseNotFound), write_transaction(engine) as conn:
        repo.save_case(conn, replace(case, report_id="f" * 32), expected_version=1)
    with pytest.raises(repo.StaleCase, match="removed"), write_transaction(engine) as conn:
        repo.save_case(
            conn, replace(reloaded, comments=(), version=9), expected_version=reloaded.version
        )


def test_list_cases_filters_and_keyset_pages(engine) -> None:
    ids = []
    with write_transaction(engine) as conn:
        for i in range(7):
            extra = {"children_involved": True} if i % 3 == 0 else {}
            stored = put(
                conn,
                make_report(
                    external_id=f"web:{i}", received_at=NOW + timedelta(minutes=i // 2), **extra
                ),
            )
            ids.append(stored.report_id)
    with engine.connect() as conn:
        pages, after = [], None
        while True:
            page = repo.list_cases(conn, limit=3, after=after)
            if not page:
                break
            pages.append(page)
            after = repo.CaseCursor.of(page[-1])
        general = repo.list_cases(conn, case_classes=[CaseClass.GENERAL])
        restricted = repo.list_cases(conn, tiers=[SensitivityTier.RESTRICTED])
        none = repo.list_cases(conn, case_classes=[])
        triaged = repo.list_cases(conn, states=[ReportState.TRIAGED])
    listed = [c for page in pages for c in page]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(c.report_id for c in listed) == sorted(ids)
    keys = [(c.received_at, c.report_id) for c in listed]
    assert keys == sorted(keys)
    assert len(general) == 4 and len(restricted) == 3
    assert none == [] and triaged == []


def test_tm_26_service_commits_before_acknowledging(engine) -> None:
    service = IntakeService(engine, KEYRING, PSEUDO, clock=lambda: NOW)
    try:
        stored = service.accept(make_report())
        # A fresh connection sees it: acknowledged means committed.
        with engine.connect() as conn:
            assert repo.find_by_receipt(conn, stored.receipt_code, PSEUDO) == stored.report_id
        with pytest.raises(repo.InvalidReport):
            service.accept(make_report(external_id="web:bad", text=""))
        assert service.accept(make_report()).duplicate
    finally:
        service.close()


def test_tm_26_group_commit_isolates_a_failing_report(engine, monkeypatch) -> None:
    """Many concurrent reports in batches; one that fails inside the transaction fails alone."""
    service = IntakeService(engine, KEYRING, PSEUDO, clock=lambda: NOW)
    real = repo._report_row

    def sometimes_failing(report, report_id, now):
        if report.external_id == "web:poison":
            raise OSError("simulated write failure")
        return real(report, report_id, now)

    monkeypatch.setattr(repo, "_report_row", sometimes_failing)
    results: dict[str, object] = {}

    def send(i: int) -> None:
        ext = "web:poison" if i == 13 else f"web:{i}"
        try:
            results[ext] = service.accept(make_report(external_id=ext))
        except OSError as exc:
            results[ext] = exc

    threads = [threading.Thread(target=send, args=(i,)) for i in range(40)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        service.close()
    assert isinstance(results.pop("web:poison"), OSError)
    assert len(results) == 39
    with engine.connect() as conn:
        assert count(conn, intake_reports) == 39
        for stored in results.values():
            assert repo.find_by_receipt(conn, stored.receipt_code, PSEUDO) == stored.report_id
        assert count(conn, audit_log) == 39


def test_tm_29_keys_created_under_home_with_mode_0600(tmp_path) -> None:
    keyring, pseudo = load_intake_keys(tmp_path, env={})
    again_ring, again_pseudo = load_intake_keys(tmp_path, env={})
    for name in ("vault.key", "pseudonym.key"):
        assert (tmp_path / "keys" / name).stat().st_mode & 0o777 == 0o600
    assert keyring.current == again_ring.current and pseudo.key == again_pseudo.key
    assert keyring.current != pseudo.key
    with pytest.raises(RuntimeError, match="forbids"):
        load_intake_keys(tmp_path / "other", env={"TOCSIN_VAULT_AUTOCREATE": "0"})


def test_tm_25_no_request_metadata_columns() -> None:
    forbidden = ("ip", "addr", "agent", "ua", "cookie", "header", "user_agent", "remote")
    for table in (*INTAKE_TABLES, report_comments):
        for column in table.columns:
            parts = column.name.split("_")
            assert not any(p in forbidden for p in parts), f"{table.name}.{column.name}"


def test_stored_text_is_kept_verbatim(engine) -> None:
    hostile = "<script>alert('x')</script> & \"quotes\" ' ; DROP TABLE intake_reports; --"
    with write_transaction(engine) as conn:
        stored = put(conn, make_report(text=hostile, place_name="<b>bold</b>"))
    with engine.connect() as conn:
        loaded = repo.load_report(conn, stored.report_id)
        assert conn.execute(text("SELECT count(*) FROM intake_reports")).scalar_one() == 1
    assert loaded.report.text == hostile  # stored as written; templates escape on output
    assert json.loads(json.dumps(loaded.report.place_name)) == "<b>bold</b>"
