"""The evaluation round end to end on both backends: stored runs and incidents in, alerts,
deliveries and ledger entries out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.alerts.forecast_helpers import CUTOFF, save_probabilities
from tests.alerts.store_helpers import (
    config,
    insert_event,
    insert_intake_report,
    ledger,
)
from tocsin.alerts import repository as repo
from tocsin.alerts import service
from tocsin.alerts.delivery import queue as q
from tocsin.alerts.lifecycle import AlertState
from tocsin.alerts.redaction import redact_for_tier
from tocsin.alerts.triggers.config import ChannelConfig
from tocsin.domain.taxonomy import SensitivityTier as Tier
from tocsin.store.schema_alerts import alert_deliveries, alerts

NOW = datetime(2024, 5, 3, 9, 0, tzinfo=UTC)


def _only(cfg, *ids):  # noqa: ANN001, ANN002, ANN202
    return cfg.model_copy(update={"triggers": tuple(t for t in cfg.triggers if t.id in ids)})


def parse_channels(text: str) -> tuple[ChannelConfig, ...]:
    import yaml

    return tuple(ChannelConfig.model_validate(c) for c in yaml.safe_load(text))


def _states(engine) -> dict[str, str]:  # noqa: ANN001
    with engine.connect() as conn:
        return {r.id: r.state for r in conn.execute(select(alerts.c.id, alerts.c.state))}


def test_forecast_alert_is_issued_queued_by_tier_and_ledgered(engine) -> None:  # noqa: ANN001
    save_probabilities(engine, {"CF52": [(0.7, 0.1)], "CF61": [(0.1, 0.0)]})
    cfg = _only(config(), "fc")
    report = service.evaluate_round(engine, cfg, now=NOW)
    assert report.candidates["fc"] == 1 and len(report.issued) == 1 and report.queued == 1
    (alert_id,) = report.issued
    with engine.connect() as conn:
        alert = repo.load_alert(conn, alert_id)
        assert alert.state is AlertState.ISSUED and alert.issued_by == "system:alerts"
        assert alert.candidate.period_start == datetime(2024, 5, 1, tzinfo=UTC)
        rows = conn.execute(select(alert_deliveries.c.channel, alert_deliveries.c.tier)).all()
        assert rows == [("ops-hook", "internal")]  # the public SMS channel is withheld
        actions = [(a, t) for a, t, _ in ledger(conn)]
    assert actions == [
        ("alert.create", f"alert:{alert_id}"),
        ("alert.issue", f"alert:{alert_id}"),
        ("alert.deliveries_queued", f"alert:{alert_id}"),
        ("alerts.evaluate", "mission:TESTMISSION"),
    ]
    with engine.connect() as conn:
        queued = ledger(conn)[2][2]
    assert queued == {"queued": 1, "already_queued": 0, "withheld_channels": ["community"]}


def test_a_second_round_adds_nothing_and_a_new_run_is_suppressed(engine) -> None:  # noqa: ANN001
    save_probabilities(engine, {"CF52": [(0.7, 0.1)]})
    cfg = _only(config(), "fc")
    first = service.evaluate_round(engine, cfg, now=NOW)
    again = service.evaluate_round(engine, cfg, now=NOW + timedelta(minutes=15))
    assert again.already_known == 1 and not again.created and not again.suppressed
    save_probabilities(engine, {"CF52": [(0.8, 0.1)]})  # a rerun for the same month
    third = service.evaluate_round(engine, cfg, now=NOW + timedelta(hours=1))
    assert len(third.suppressed) == 1 and not third.issued
    with engine.connect() as conn:
        dup = repo.load_alert(conn, third.suppressed[0])
    assert dup.duplicate_of == first.issued[0]


def test_auto_issue_off_keeps_drafts(engine) -> None:  # noqa: ANN001
    save_probabilities(engine, {"CF52": [(0.7, 0.1)]})
    report = service.evaluate_round(engine, _only(config(auto_issue=False), "fc"), now=NOW)
    assert report.created and not report.issued and report.queued == 0
    assert set(_states(engine).values()) == {"draft"}


def test_tm_51_surge_counts_only_incidents_at_the_triggers_tier(engine) -> None:  # noqa: ANN001
    cfg = _only(config(), "surge")
    with engine.begin() as conn:
        for months_ago in range(1, 12):  # one incident a month in the history
            insert_event(conn, NOW.date() - timedelta(days=30 * months_ago + 5))
        for day in range(3):  # restricted incidents in the window: must not be counted
            insert_event(conn, NOW.date() - timedelta(days=day + 1), tier="restricted")
    assert service.evaluate_round(engine, cfg, now=NOW).candidates["surge"] == 0
    with engine.begin() as conn:
        for day in range(5):
            insert_event(conn, NOW.date() - timedelta(days=day + 1), tier="internal")
    report = service.evaluate_round(engine, cfg, now=NOW)
    assert report.candidates["surge"] == 1
    with engine.connect() as conn:
        alert = repo.load_alert(conn, report.issued[0])
    assert alert.candidate.area_key == "adm1:CF52"
    assert alert.candidate.measures["observed"] == 5  # the 3 restricted ones are not in it


def test_proximity_to_a_protected_site_keeps_the_site_restricted(engine) -> None:  # noqa: ANN001
    cfg = _only(config(), "prox")
    with engine.begin() as conn:
        near = insert_event(conn, date(2024, 5, 1), lat=5.80, lon=20.70)
        insert_event(conn, date(2024, 5, 1), lat=6.50, lon=21.50)  # ~110 km away
        insert_event(conn, date(2024, 4, 1), lat=5.76, lon=20.67)  # older than the validity
    report = service.evaluate_round(engine, cfg, now=NOW)
    assert report.candidates["prox"] == 1
    with engine.connect() as conn:
        alert = repo.load_alert(conn, report.issued[0])
    assert alert.candidate.evidence == (near,)
    internal = redact_for_tier(alert.candidate, Tier.INTERNAL)
    assert "Secret-Name" not in internal.description
    assert [a.description for a in internal.areas] == ["Ouaka prefecture"]
    restricted = redact_for_tier(alert.candidate, Tier.RESTRICTED)
    assert "Secret-Name" in restricted.description
    assert "narrative" not in restricted.description  # event text never enters an alert


def test_tm_55_keyword_alerts_wait_for_a_person(engine) -> None:  # noqa: ANN001
    cfg = _only(config(), "kw")
    with engine.begin() as conn:
        insert_intake_report(conn, "r1", "Ils disent: ATTAQUE PREVUE demain au marché.", NOW)
        insert_intake_report(conn, "r2", "Rien à signaler.", NOW)
        insert_intake_report(conn, "r3", "attaque prévue", NOW - timedelta(days=10))  # too old
    report = service.evaluate_round(engine, cfg, now=NOW + timedelta(minutes=5))
    assert report.candidates["kw"] == 1 and not report.issued
    (alert_id,) = report.created
    with engine.connect() as conn:
        alert = repo.load_alert(conn, alert_id)
    assert alert.state is AlertState.DRAFT and alert.candidate.requires_confirmation


def test_tm_57_report_place_names_never_reach_the_alert_area(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        insert_intake_report(conn, "r9", "attaque prévue ce soir", NOW)
    report = service.evaluate_round(engine, _only(config(), "kw"), now=NOW)
    with engine.connect() as conn:
        alert = repo.load_alert(conn, report.created[0])
    internal = redact_for_tier(alert.candidate, Tier.INTERNAL)
    assert "Secretville" not in repo.candidate_to_json(alert.candidate)
    assert "ce soir" not in internal.description  # the excerpt stays at the report's tier
    assert "ce soir" in redact_for_tier(alert.candidate, Tier.RESTRICTED).description
    assert alert.candidate.area_key == "report:r9"


def test_overdue_alerts_escalate_once_per_step(engine) -> None:  # noqa: ANN001
    save_probabilities(engine, {"CF52": [(0.7, 0.1)]})
    cfg = _only(config(), "fc")
    (alert_id,) = service.evaluate_round(engine, cfg, now=NOW).issued  # Expected: 4 h to ack
    later = service.evaluate_round(engine, cfg, now=NOW + timedelta(hours=5))
    assert later.escalated == [alert_id]
    latest = service.evaluate_round(engine, cfg, now=NOW + timedelta(hours=7))
    assert latest.escalated == [alert_id]
    assert service.evaluate_round(engine, cfg, now=NOW + timedelta(hours=8)).escalated == []
    with engine.connect() as conn:
        steps = [d for a, _t, d in ledger(conn) if a == "alert.escalate"]
        assert repo.load_alert(conn, alert_id).escalation_level == 2
    assert [(s["level"], s["notify"]) for s in steps] == [
        (1, ["duty_officer"]),
        (2, ["head_of_office"]),
    ]


def test_a_failing_trigger_is_reported_and_the_others_still_run(engine, monkeypatch) -> None:  # noqa: ANN001
    save_probabilities(engine, {"CF52": [(0.7, 0.1)]})

    def broken(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "evaluate_proximity", broken)
    report = service.evaluate_round(engine, _only(config(), "fc", "prox"), now=NOW)
    assert report.failed_triggers == {"prox": "RuntimeError: boom"}
    assert len(report.issued) == 1
    with engine.connect() as conn:
        entries = ledger(conn)
    assert ("alerts.trigger_failed", "trigger:prox", {"error_type": "RuntimeError"}) in entries
    assert entries[-1][2]["failed_triggers"] == ["prox"]


def test_no_forecast_run_is_a_note_not_an_error(engine) -> None:  # noqa: ANN001
    report = service.evaluate_round(engine, _only(config(), "fc"), now=NOW)
    assert report.notes and not report.failed_triggers and not report.created


def test_naive_time_is_refused(engine) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="timezone"):
        service.evaluate_round(engine, config(), now=datetime(2024, 5, 3))


def test_nothing_is_half_written_when_the_round_fails(engine, monkeypatch) -> None:  # noqa: ANN001
    save_probabilities(engine, {"CF52": [(0.7, 0.1)], "CF61": [(0.9, 0.1)]})

    def fail(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError("disk full")

    monkeypatch.setattr(service, "write_ledger", fail)
    with pytest.raises(OSError):
        service.evaluate_round(engine, _only(config(), "fc"), now=NOW)
    assert _states(engine) == {}
    with engine.connect() as conn:
        assert q.dead_letters(conn) == [] and ledger(conn) == []
    assert CUTOFF  # the run is still there for the next round


def test_scheduler_runs_a_round_when_due_and_delivers(engine, tmp_path) -> None:  # noqa: ANN001
    from tests.alerts.store_helpers import CONFIG
    from tocsin.alerts.scheduler import last_round_at, run_alerts_if_due

    path = tmp_path / "triggers.yaml"
    every = timedelta(minutes=15)
    assert run_alerts_if_due(engine, NOW, every, config_path=path) is None  # not configured
    path.write_text(CONFIG, encoding="utf-8")
    save_probabilities(engine, {"CF52": [(0.7, 0.1)]})
    ran = run_alerts_if_due(engine, NOW, every, config_path=path)
    assert ran is not None and len(ran[0].issued) == 1
    # No webhook secret in the environment: the webhook row is dead-lettered, visibly.
    assert ran[1].dead == 1
    assert last_round_at(engine) == NOW
    assert run_alerts_if_due(engine, NOW + timedelta(minutes=5), every, config_path=path) is None
    assert run_alerts_if_due(engine, NOW + every, every, config_path=path) is not None


def test_maintenance_calls_the_alert_round_only_when_switched_on(
    sqlite_engine, tmp_path, monkeypatch
) -> None:  # noqa: ANN001, E501
    from tests.alerts.store_helpers import CONFIG
    from tocsin.api.app import create_app, run_maintenance
    from tocsin.api.settings import Settings

    path = tmp_path / "triggers.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("TOCSIN_ALERTS_CONFIG", str(path))
    save_probabilities(sqlite_engine, {"CF52": [(0.7, 0.1)]})
    settings = Settings(home=tmp_path, clock=lambda: NOW)
    app = create_app(sqlite_engine, settings, background=False)
    run_maintenance(app.state.services)
    assert _states(sqlite_engine) == {}  # off by default
    settings.alerts_interval = timedelta(minutes=15)
    run_maintenance(app.state.services)
    assert list(_states(sqlite_engine).values()) == ["issued"]


def test_tm_58_secrets_stay_out_of_the_trigger_file() -> None:
    from tests.alerts.store_helpers import CONFIG
    from tocsin.alerts.settings import build_senders, secret_env_name
    from tocsin.alerts.triggers.config import TriggerConfigError, parse_triggers

    leaky = CONFIG.replace(
        "tier: internal}\n  - {name: community",
        'tier: internal, secret: "hunter2-hunter2-hunter2"}\n  - {name: community',
    )
    assert leaky != CONFIG
    with pytest.raises(TriggerConfigError, match="secret"):
        parse_triggers(leaky)
    cfg = parse_triggers(CONFIG)
    assert secret_env_name("ops-hook") == "TOCSIN_ALERTS_WEBHOOK_SECRET_OPS_HOOK"
    senders = build_senders(cfg, {"TOCSIN_ALERTS_WEBHOOK_SECRET_OPS_HOOK": "s" * 32})
    assert set(senders) == {"webhook"}  # no SMS gateway given: SMS rows wait in the queue


def test_escalation_reaches_the_recipients_of_the_notified_roles(engine) -> None:  # noqa: ANN001
    save_probabilities(engine, {"CF52": [(0.7, 0.1)]})
    base = _only(config(), "fc")
    extra = parse_channels(
        """
        - {name: duty-phone, kind: sms, target: "+236700000009", tier: internal,
           escalation_roles: [duty_officer], on_issue: false}
        - {name: hoo-mail, kind: email, target: "hoo@mission.example", tier: public,
           escalation_roles: [head_of_office], on_issue: false}
        """
    )
    cfg = base.model_copy(update={"channels": base.channels + extra})
    (alert_id,) = service.evaluate_round(engine, cfg, now=NOW).issued

    def queued() -> list[str]:
        with engine.connect() as conn:
            return [r.channel for r in conn.execute(select(alert_deliveries.c.channel))]

    assert sorted(queued()) == ["ops-hook"]  # escalation-only recipients hear nothing on issue
    first = service.evaluate_round(engine, cfg, now=NOW + timedelta(hours=5))
    assert first.escalated == [alert_id] and first.queued == 1
    assert sorted(queued()) == ["duty-phone", "ops-hook"]
    second = service.evaluate_round(engine, cfg, now=NOW + timedelta(hours=7))
    # head of office's channel is public, below the alert's internal tier: withheld, not leaked
    assert second.escalated == [alert_id] and second.queued == 0
    assert sorted(queued()) == ["duty-phone", "ops-hook"]
    with engine.connect() as conn:
        withheld = [d for a, _t, d in ledger(conn) if a == "alert.deliveries_queued"][-1]
    assert withheld["withheld_channels"] == ["hoo-mail"]
    assert service.evaluate_round(engine, cfg, now=NOW + timedelta(hours=9)).queued == 0
