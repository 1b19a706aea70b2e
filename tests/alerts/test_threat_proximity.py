"""Credible threat reports feed the proximity trigger (both backends): which reports count,
the tier and case class they give the alert, what never leaves (reporter data, the report's own
position), and one alert per detection across reports and the incidents they became."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from tests.alerts.store_helpers import config, insert_event
from tocsin.alerts import repository as repo
from tocsin.alerts import service
from tocsin.alerts.actions import close_stored, issue_stored
from tocsin.alerts.delivery.dispatch import Channel
from tocsin.alerts.lifecycle import AlertState, Outcome
from tocsin.alerts.redaction import redact_for_tier
from tocsin.alerts.triggers.config import ProximityTrigger, TriggerConfigError, parse_triggers
from tocsin.domain.taxonomy import CaseClass
from tocsin.domain.taxonomy import SensitivityTier as Tier
from tocsin.store import schema as s
from tocsin.store.schema_alerts import alert_deliveries, alerts
from tocsin.store.schema_intake import intake_contacts, intake_reports, report_cases
from tocsin.store.schema_verify import report_links

NOW = datetime(2024, 5, 3, 9, 0, tzinfo=UTC)
# Full-precision position of the reporter's observation: used for the distance, never shown.
REPORT_LAT, REPORT_LON = 5.7712345, 20.6798765
PSEUDONYM = "pseudo7f3a9c"
RECEIPT_HASH = "e" * 64
SECRET_TEXT = "Reporter-narrative-Kouassi-behind-the-well"
SECRET_PLACE = "Secretville-behind-the-mosque"


def _cfg(**rule: object):  # noqa: ANN003, ANN202
    """The test mission with only the proximity trigger, its keys overridden by ``rule``."""
    cfg = config()
    prox = next(t for t in cfg.triggers if t.id == "prox")
    data = prox.model_dump() | rule
    return cfg.model_copy(update={"triggers": (ProximityTrigger.model_validate(data),)})


def add_report(
    conn,  # noqa: ANN001
    report_id: str,
    *,
    state: str = "verified",
    grade: str | None = "B2",
    tier: str = "internal",
    case_class: str = "general",
    lat: float | None = REPORT_LAT,
    lon: float | None = REPORT_LON,
    received: datetime = NOW - timedelta(days=1),
    accuracy_m: float | None = 50.0,
    threat: str | None = "attack_on_civilians",
) -> None:
    conn.execute(
        insert(intake_reports).values(
            id=report_id,
            channel="web",
            external_id=report_id,
            received_at=received,
            occurred_on=received.date(),
            lat=lat,
            lon=lon,
            location_accuracy_m=accuracy_m,
            place_name=SECRET_PLACE,
            text=SECRET_TEXT,
            threat=threat,
            act_types="[]",
            attachment_names="[]",
            reporter_pseudonym=PSEUDONYM,
            receipt_hash=RECEIPT_HASH if report_id.endswith("1") else None,
            perpetrator_name="Named-Commander-X",
            created_at=received,
        )
    )
    conn.execute(
        insert(intake_contacts).values(
            report_id=report_id, sealed='{"sealed": "+236755512345"}', kek_id="k1"
        )
    )
    conn.execute(
        insert(report_cases).values(
            report_id=report_id,
            state=state,
            case_class=case_class,
            sensitivity=tier,
            received_at=received,
            reliability=grade[0] if grade else None,
            credibility=grade[1] if grade else None,
            version=3,
        )
    )


def _link(conn, report_id: str, event_uid: str) -> None:  # noqa: ANN001
    conn.execute(
        insert(report_links).values(
            report_id=report_id, event_uid=event_uid, created_new=False, linked_at=NOW
        )
    )


def _stored(engine) -> list:  # noqa: ANN001
    with engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(alerts.c.id).order_by(alerts.c.created_at))]
        return [repo.load_alert(conn, i) for i in ids]


def test_tm_80_verified_threat_report_near_a_site_is_an_alert_without_reporter_data(
    engine,  # noqa: ANN001
) -> None:
    cfg = _cfg()
    with engine.begin() as conn:
        add_report(conn, "r0000000000000000000000000000001")
    report = service.evaluate_round(engine, cfg, now=NOW)
    assert report.candidates["prox"] == 1 and len(report.created) == 1
    assert not report.issued  # a threat waits for a person (TM-55)
    (alert,) = _stored(engine)
    c = alert.candidate
    assert alert.state is AlertState.DRAFT and c.requires_confirmation
    assert c.evidence == ("report:r0000000000000000000000000000001",)
    assert "Credible threat report" in c.explanation_text and "incident" not in c.headline
    assert c.tier is Tier.INTERNAL and c.case_class is CaseClass.GENERAL
    # A person issues it; the CAP webhook body and the e-mail go out for their tiers.
    channels = [
        Channel("hook", "webhook", "https://hooks.example/x", Tier.RESTRICTED),
        Channel("mail", "email", "ops@mission.example", Tier.INTERNAL),
    ]
    with engine.begin() as conn:
        issue_stored(
            conn,
            alert.id,
            actor="user:analyst1",
            now=NOW,
            ladder=cfg.ladder(),
            channels=channels,
            sender=cfg.sender,
        )
    with engine.connect() as conn:
        payloads = [r.payload for r in conn.execute(select(alert_deliveries.c.payload))]
        stored_json = conn.scalar(select(alerts.c.candidate_json))
    assert len(payloads) == 2
    restricted_view = redact_for_tier(c, Tier.CONFIDENTIAL)
    everything = "\n".join([*payloads, stored_json, restricted_view.description])
    for secret in (
        PSEUDONYM,
        RECEIPT_HASH,
        SECRET_TEXT,
        SECRET_PLACE,
        "Named-Commander-X",
        "+236755512345",
        "5.77123",  # the report's own coordinates, at any precision beyond the site's
        "20.67987",
    ):
        assert secret not in everything, secret
    assert "Credible threat report" in payloads[0]  # the restricted webhook gets the detail


def test_unverified_ungraded_or_low_credibility_reports_make_no_alert(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        add_report(conn, "r-underver-b3", state="under_verification", grade="B3")
        add_report(conn, "r-unverified-c3", state="unverified", grade="C3")
        add_report(conn, "r-triaged", state="triaged", grade=None)
        add_report(conn, "r-discarded", state="discarded", grade="A1")
        add_report(conn, "r-verified-far", lat=7.5, lon=22.0)  # ~270 km away
        add_report(conn, "r-no-position", lat=None, lon=None)
        add_report(conn, "r-vague", accuracy_m=60_000)  # 60 km: vaguer than the trigger allows
        add_report(conn, "r-old", received=NOW - timedelta(days=10))  # outside the validity
    assert service.evaluate_round(engine, _cfg(), now=NOW).candidates["prox"] == 0
    # A mission that also counts graded reports still under verification, up to "possibly
    # true" (3), from usual sources: B3 counts, the unverified C3 and everything else do not.
    wider = _cfg(
        threat_states=("verified", "under_verification"),
        threat_max_credibility=3,
        threat_reliabilities=("A", "B"),
    )
    report = service.evaluate_round(engine, wider, now=NOW)
    assert report.candidates["prox"] == 1
    (alert,) = _stored(engine)
    assert alert.candidate.evidence == ("report:r-underver-b3",)
    # Credible threats switched off for the trigger: nothing from reports at all.
    off = _cfg(include=("verified_incident",))
    assert service.evaluate_round(engine, off, now=NOW).candidates["prox"] == 0


def test_tm_81_a_restricted_report_makes_a_restricted_alert(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        add_report(conn, "r-restricted", tier="restricted")
        add_report(conn, "r-children", tier="restricted", case_class="children")
        add_report(conn, "r-sexual", tier="confidential", case_class="sexual_violence")
    # By default only general cases feed the trigger.
    report = service.evaluate_round(engine, _cfg(), now=NOW)
    assert report.candidates["prox"] == 1
    (general,) = _stored(engine)
    assert general.candidate.evidence == ("report:r-restricted",)
    assert general.candidate.tier is Tier.RESTRICTED  # never lower than the report
    assert all(p.tier >= Tier.RESTRICTED for p in general.candidate.explanation)
    assert all(a.tier >= Tier.RESTRICTED for a in general.candidate.areas)
    with pytest.raises(PermissionError):
        redact_for_tier(general.candidate, Tier.INTERNAL)


def test_tm_81_a_restricted_class_report_is_delivered_only_where_the_class_is_cleared(
    engine,  # noqa: ANN001
) -> None:
    with engine.begin() as conn:
        add_report(conn, "r-children", tier="restricted", case_class="children")
    cfg = _cfg(case_classes=("general", "children"))
    service.evaluate_round(engine, cfg, now=NOW)
    (children,) = _stored(engine)
    assert children.candidate.case_class is CaseClass.CHILDREN
    assert children.candidate.tier is Tier.RESTRICTED
    assert "attack" not in children.candidate.explanation_text  # no class-revealing category
    # An internal channel is below its tier; a confidential channel not cleared for the
    # children class is withheld too; only the one cleared for it receives it.
    channels = [
        Channel("low", "webhook", "https://hooks.example/low", Tier.INTERNAL),
        Channel("conf-general", "webhook", "https://hooks.example/g", Tier.CONFIDENTIAL),
        Channel(
            "conf-children",
            "webhook",
            "https://hooks.example/c",
            Tier.CONFIDENTIAL,
            case_classes=frozenset({CaseClass.GENERAL, CaseClass.CHILDREN}),
        ),
    ]
    with engine.begin() as conn:
        step = issue_stored(
            conn,
            children.id,
            actor="user:po1",
            now=NOW,
            ladder=cfg.ladder(),
            channels=channels,
            sender=cfg.sender,
        )
        queued = [r.channel for r in conn.execute(select(alert_deliveries.c.channel))]
    assert queued == ["conf-children"]
    assert set(step.dispatch.skipped) == {"low", "conf-general"}


def test_a_restricted_threat_alert_does_not_silence_an_internal_incident_alert(
    engine,  # noqa: ANN001
) -> None:
    cfg = _cfg()
    with engine.begin() as conn:
        add_report(conn, "r-hidden", tier="restricted")
    service.evaluate_round(engine, cfg, now=NOW)
    with engine.begin() as conn:
        incident = insert_event(conn, NOW.date(), lat=5.77, lon=20.68, tier="internal")
        _link(conn, "r-hidden", incident)  # even when linked
    later = service.evaluate_round(engine, cfg, now=NOW + timedelta(hours=1))
    assert len(later.created) == 1 and not later.suppressed
    with engine.connect() as conn:
        assert repo.load_alert(conn, later.created[0]).candidate.tier is Tier.INTERNAL


def test_tm_82_one_alert_per_site_across_a_report_and_its_incident(engine) -> None:  # noqa: ANN001
    cfg = _cfg(validity="14d")
    with engine.begin() as conn:
        add_report(conn, "r-linked", received=NOW - timedelta(days=1))
    first = service.evaluate_round(engine, cfg, now=NOW)
    assert len(first.created) == 1
    # The same report next round: the same detection, not a second alert.
    again = service.evaluate_round(engine, cfg, now=NOW + timedelta(minutes=10))
    assert again.already_known == 1 and not again.created and not again.suppressed
    # The analyst links the report to an incident near the same site, dated ten days earlier
    # (the two periods do not overlap): still no second alert for that site.
    with engine.begin() as conn:
        incident = insert_event(conn, date(2024, 4, 22), lat=5.77, lon=20.68, tier="internal")
        _link(conn, "r-linked", incident)
    linked = service.evaluate_round(engine, cfg, now=NOW + timedelta(minutes=20))
    assert linked.candidates["prox"] == 2  # both sources still fire ...
    assert linked.already_known == 2 and not linked.created and not linked.suppressed  # ... once
    # An incident *made from* a report (dataset tocsin-report) is recognised without a link.
    with engine.begin() as conn:
        add_report(conn, "r-made", received=NOW - timedelta(hours=2))
    service.evaluate_round(engine, cfg, now=NOW + timedelta(minutes=30))
    with engine.begin() as conn:
        made = insert_event(conn, NOW.date(), lat=5.765, lon=20.675, tier="internal")
        conn.execute(
            s.events.update()
            .where(s.events.c.uid == made)
            .values(dataset="tocsin-report", original_id="r-made")
        )
    made_round = service.evaluate_round(engine, cfg, now=NOW + timedelta(minutes=40))
    assert made_round.already_known >= 1 and not made_round.created
    # A different incident at the same site within the window is a suppressed duplicate, as
    # before: suppression still works, it just does not need overlapping periods for links.
    with engine.begin() as conn:
        insert_event(conn, NOW.date(), lat=5.761, lon=20.671, tier="internal")
    other = service.evaluate_round(engine, cfg, now=NOW + timedelta(minutes=50))
    assert len(other.suppressed) == 1


def test_a_rejected_threat_lets_the_verified_incident_through(engine) -> None:  # noqa: ANN001
    cfg = _cfg()
    with engine.begin() as conn:
        add_report(conn, "r-rej", received=NOW - timedelta(days=1))
    (draft_id,) = service.evaluate_round(engine, cfg, now=NOW).created
    with engine.begin() as conn:
        close_stored(conn, draft_id, actor="user:po1", now=NOW, outcome=Outcome.REJECTED)
        incident = insert_event(conn, NOW.date(), lat=5.77, lon=20.68, tier="internal")
        _link(conn, "r-rej", incident)
    later = service.evaluate_round(engine, cfg, now=NOW + timedelta(hours=1))
    assert len(later.created) == 1  # the incident gets a fresh look
    with engine.connect() as conn:
        fresh = repo.load_alert(conn, later.created[0])
    assert fresh.candidate.evidence[0] in {incident, "report:r-rej"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("threat_states", "[discarded]", "threat_states"),
        ("threat_states", "[]", "threat_states"),
        ("threat_max_credibility", "6", "threat_max_credibility"),
        ("threat_max_credibility", "0", "threat_max_credibility"),
        ("threat_reliabilities", "[G]", "threat_reliabilities"),
        ("case_classes", "[secret_police]", "case_classes"),
        ("threat_rule", "verified", "threat_rule"),  # unknown key
    ],
)
def test_threat_keys_are_validated(key: str, value: str, message: str) -> None:
    text = f"""
mission: M
sender: tocsin.test
escalation: {{ack_deadline: {{default: 4h}}, ladder: [{{after: 0m, notify: [duty_officer]}}]}}
triggers:
  - id: prox
    kind: proximity
    name: Near
    radius_km: 10
    site_kinds: [idp_site]
    {key}: {value}
"""
    with pytest.raises(TriggerConfigError) as err:
        parse_triggers(text)
    assert any(message in p for p in err.value.problems), err.value.problems


def test_counts_as_credible_rule() -> None:
    from tocsin.domain.grading import InformationCredibility as C
    from tocsin.domain.grading import SourceReliability as R

    rule = _cfg().triggers[0]
    assert rule.counts_as_credible("verified", R.B, C.PROBABLY_TRUE)
    assert rule.counts_as_credible("verified", R.F, C.CONFIRMED)
    assert not rule.counts_as_credible("verified", None, C.CONFIRMED)
    assert not rule.counts_as_credible("verified", R.A, C.POSSIBLY_TRUE)
    assert not rule.counts_as_credible("under_verification", R.A, C.CONFIRMED)
    wide = _cfg(threat_max_credibility=5).triggers[0]
    assert not wide.counts_as_credible("verified", R.A, C.CANNOT_BE_JUDGED)


def test_old_alerts_without_a_case_class_read_as_general(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        add_report(conn, "r-json")
    (alert_id,) = service.evaluate_round(engine, _cfg(), now=NOW).created
    with engine.begin() as conn:
        text = conn.scalar(select(alerts.c.candidate_json).where(alerts.c.id == alert_id))
        data = json.loads(text)
        data.pop("case_class")
        conn.execute(
            alerts.update().where(alerts.c.id == alert_id).values(candidate_json=json.dumps(data))
        )
        assert repo.load_alert(conn, alert_id).candidate.case_class is CaseClass.GENERAL
