"""One evaluation round: triggers -> candidates -> alerts -> deliveries, and escalation.

``evaluate_round(engine, cfg, now=...)``:

1. reads its inputs (no lock held): the latest stored forecast run and the one before it
   (``forecast_source``), verified incidents for surge and proximity, and incoming intake
   reports for keywords when the intake table exists;
2. evaluates every enabled trigger; a trigger that fails is reported and recorded in the
   ledger, and the others still run;
3. in one write transaction: admits each candidate (a re-detection of an alert already stored,
   same trigger, area, period and evidence, is skipped; an overlapping one is stored as a
   suppressed duplicate), issues what needs no person's confirmation when ``auto_issue`` is on
   and queues it for every channel cleared for it, escalates issued alerts past their
   acknowledgement deadline, and appends every step to the audit ledger.

Surge counts only incidents at or below the trigger's tier: a count that includes restricted
incidents would tell an internal channel that they exist (threat model TM-51).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from tocsin.alerts import inputs
from tocsin.alerts import repository as repo
from tocsin.alerts.actions import (
    StepResult,
    escalate_stored,
    issue_stored,
    write_ledger,
)
from tocsin.alerts.forecast_source import latest_forecast_inputs
from tocsin.alerts.lifecycle import AlertState, Outcome, covers
from tocsin.alerts.model import AlertCandidate, TriggerKind
from tocsin.alerts.triggers.config import (
    ForecastRiskTrigger,
    KeywordsTrigger,
    ProximityTrigger,
    SurgeTrigger,
    TriggerFile,
)
from tocsin.alerts.triggers.forecast_risk import evaluate_forecast_risk
from tocsin.alerts.triggers.keywords import evaluate_keywords
from tocsin.alerts.triggers.proximity import evaluate_proximity
from tocsin.alerts.triggers.surge import SurgeSeries
from tocsin.security.audit import Actor, PendingEntry
from tocsin.security.txn import write_transaction

log = logging.getLogger(__name__)
SYSTEM = "system:alerts"
SYSTEM_ACTOR = Actor(SYSTEM)


@dataclass
class RoundReport:
    at: datetime
    candidates: Counter[str] = field(default_factory=Counter)  # per trigger id
    created: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    already_known: int = 0
    issued: list[str] = field(default_factory=list)
    queued: int = 0
    escalated: list[str] = field(default_factory=list)
    failed_triggers: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """Counts and ids only: this goes into the audit ledger."""
        return {
            "candidates": sum(self.candidates.values()),
            "created": len(self.created),
            "suppressed": len(self.suppressed),
            "already_known": self.already_known,
            "issued": len(self.issued),
            "queued": self.queued,
            "escalated": len(self.escalated),
            "failed_triggers": sorted(self.failed_triggers),
        }


# ------------------------------------------------------------------ evaluating triggers


def _evaluate(engine: Engine, cfg: TriggerFile, now: datetime, report: RoundReport) -> list:
    enabled = [t for t in cfg.triggers if t.enabled]
    out: list[AlertCandidate] = []

    def run(trigger_id: str, fn: Callable[[], list[AlertCandidate]]) -> None:
        try:
            found = fn()
        except Exception as exc:  # noqa: BLE001 - one broken trigger must not silence the rest
            log.exception("alert trigger %s failed", trigger_id)
            report.failed_triggers[trigger_id] = f"{type(exc).__name__}: {exc}"[:500]
            return
        report.candidates[trigger_id] += len(found)
        out.extend(found)

    forecast_rules = [t for t in enabled if isinstance(t, ForecastRiskTrigger)]
    if forecast_rules:
        found = latest_forecast_inputs(engine, level=cfg.forecast_level)
        if found is None:
            report.notes.append("no stored forecast run of one-sided violence (ged_os)")
        else:
            current, previous = found.current, found.previous
            for rule in forecast_rules:
                run(rule.id, lambda r=rule: evaluate_forecast_risk(r, current, previous))

    surge_rules = [t for t in enabled if isinstance(t, SurgeTrigger)]
    proximity_rules = [t for t in enabled if isinstance(t, ProximityTrigger)]
    keyword_rules = [t for t in enabled if isinstance(t, KeywordsTrigger)]
    with engine.connect() as conn:
        if surge_rules:
            span = max(r.history_days + r.window_days for r in surge_rules)
            since = (now - timedelta(days=span)).date()
            observed = inputs.surge_observations(conn, since, now.date())
            for rule in surge_rules:
                allowed = [o.observation for o in observed if o.tier <= rule.tier]
                run(rule.id, lambda r=rule, a=allowed: SurgeSeries(a).evaluate(r, now.date()))
        if proximity_rules:
            span_p = max(r.validity for r in proximity_rules)
            located = inputs.located_incidents(conn, (now - span_p).date(), now.date())
            threats: list[inputs.GradedThreat] = []
            threat_rules = [r for r in proximity_rules if "credible_threat" in r.include]
            if threat_rules:
                states = {state for r in threat_rules for state in r.threat_states}
                threats = inputs.credible_threat_reports(conn, now - span_p, states)
            sites = cfg.protected_sites()
            for rule in proximity_rules:
                recent = [x for x in located if x.occurred_at >= now - rule.validity]
                recent += [
                    t.report
                    for t in threats
                    if t.report.occurred_at >= now - rule.validity
                    and rule.counts_as_credible(t.state, t.reliability, t.credibility)
                ]
                run(rule.id, lambda r=rule, x=recent: evaluate_proximity(r, sites, x))
        if keyword_rules:
            if not inputs.has_intake(conn):
                report.notes.append("no intake reports table: keyword triggers have no input")
            else:
                span_k = max(r.validity for r in keyword_rules)
                reports = inputs.incoming_reports(conn, now - span_k)
                for rule in keyword_rules:
                    recent_r = [x for x in reports if x.received_at >= now - rule.validity]
                    run(rule.id, lambda r=rule, x=recent_r: evaluate_keywords(r, x))
    return out


# ------------------------------------------------------------------ storing


def _already_known(conn: Connection, candidate: AlertCandidate) -> bool:
    """The same detection as a stored alert: same trigger, area, period and evidence. Such a
    candidate comes back every round until its inputs change; it is not a new duplicate.

    A proximity candidate is also already known when a stored alert of the same trigger and
    site shares a piece of its evidence: a threat report and the incident it was linked to
    (or made into) are one detection, whichever source fired first and however far apart
    their dates are. An alert a person rejected does not count (the verified incident that
    follows a rejected threat gets a fresh look), nor one the candidate's readers could not
    read (a restricted threat alert does not silence the internal incident alert)."""
    if any(
        a.candidate.period_start == candidate.period_start
        and a.candidate.period_end == candidate.period_end
        and a.candidate.evidence == candidate.evidence
        for a in repo.overlapping_alerts(conn, candidate)
    ):
        return True
    if candidate.kind is not TriggerKind.PROXIMITY or not candidate.evidence:
        return False
    return any(
        a.outcome is not Outcome.REJECTED and covers(a.candidate, candidate)
        for a in repo.alerts_sharing_evidence(conn, candidate)
    )


def _store(
    conn: Connection,
    cfg: TriggerFile,
    candidates: list[AlertCandidate],
    now: datetime,
    report: RoundReport,
) -> list[PendingEntry]:
    ledger: list[PendingEntry] = []
    ladder = cfg.ladder()
    channels = cfg.delivery_channels()
    for candidate in candidates:
        if _already_known(conn, candidate):
            report.already_known += 1
            continue
        alert, events = repo.admit_candidate(conn, candidate, mission=cfg.mission, at=now)
        ledger.extend(StepResult(alert, tuple(events)).ledger(SYSTEM_ACTOR))
        if alert.state is AlertState.SUPPRESSED:
            report.suppressed.append(alert.id)
            continue
        report.created.append(alert.id)
        if cfg.auto_issue and not candidate.requires_confirmation:
            step = issue_stored(
                conn,
                alert.id,
                actor=SYSTEM,
                now=now,
                ladder=ladder,
                channels=channels,
                sender=cfg.sender,
            )
            ledger.extend(step.ledger(SYSTEM_ACTOR))
            report.issued.append(alert.id)
            assert step.dispatch is not None
            report.queued += len(step.dispatch.enqueued)
    for overdue in repo.overdue_alerts(conn, now):
        step_e = escalate_stored(
            conn,
            overdue,
            ladder=ladder,
            now=now,
            channels=channels,
            sender=cfg.sender,
            public_url=cfg.public_url,
        )
        if step_e is not None:
            ledger.extend(step_e.ledger(SYSTEM_ACTOR))
            report.escalated.append(overdue.id)
            if step_e.dispatch is not None:
                report.queued += len(step_e.dispatch.enqueued)
    return ledger


def evaluate_round(engine: Engine, cfg: TriggerFile, *, now: datetime | None = None) -> RoundReport:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("the evaluation time must be timezone-aware")
    report = RoundReport(at=now)
    candidates = _evaluate(engine, cfg, now, report)
    with write_transaction(engine) as conn:
        ledger = _store(conn, cfg, candidates, now, report)
        for trigger_id, error in sorted(report.failed_triggers.items()):
            ledger.append(
                PendingEntry(
                    SYSTEM_ACTOR,
                    "alerts.trigger_failed",
                    f"trigger:{trigger_id}",
                    {"error_type": error.split(":", 1)[0]},
                )
            )
        target = f"mission:{cfg.mission}"
        ledger.append(PendingEntry(SYSTEM_ACTOR, "alerts.evaluate", target, report.summary()))
        write_ledger(conn, ledger, now)
    return report
