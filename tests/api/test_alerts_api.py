"""``/api/v1/alerts``: roles x tiers, CAP redaction, the feed, 409s, and the ledger (both
backends)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
from sqlalchemy import select

from tests.alerts.store_helpers import CONFIG
from tests.api.support import add_token, add_user, login, make_env
from tocsin.alerts import repository as repo
from tocsin.alerts.cap import ATOM_NS, CAP_NS, validate_cap
from tocsin.alerts.lifecycle import issue
from tocsin.alerts.model import (
    AlertArea,
    AlertCandidate,
    Certainty,
    Passage,
    Severity,
    TriggerKind,
    Urgency,
)
from tocsin.alerts.triggers.config import parse_triggers
from tocsin.domain.taxonomy import SensitivityTier as Tier
from tocsin.security.policies import Role
from tocsin.security.txn import write_transaction
from tocsin.store.schema_security import audit_log

TIERS = (Tier.PUBLIC, Tier.INTERNAL, Tier.RESTRICTED, Tier.CONFIDENTIAL)
LADDER = parse_triggers(CONFIG).ladder()


def tiered(tier: Tier, key: str, *, confirm: bool = False) -> AlertCandidate:
    """Base text at the alert's tier; a detail and a site only at confidential."""
    return AlertCandidate(
        trigger_id="t",
        kind=TriggerKind.PROXIMITY,
        area_key=key,
        period_start=_now() - timedelta(hours=1),
        period_end=_now() + timedelta(days=3),
        headline=f"Headline-{tier.value}",
        explanation=(
            Passage(f"Base-{tier.value}.", tier),
            Passage("Detail-secret.", Tier.CONFIDENTIAL),
        ),
        severity=Severity.SEVERE,
        urgency=Urgency.EXPECTED,
        certainty=Certainty.LIKELY,
        tier=tier,
        areas=(
            AlertArea(
                "Site-secret",
                Tier.CONFIDENTIAL,
                circle=(5.7, 20.6, 5),
                generalised=AlertArea(f"Region-{tier.value}", tier),
            ),
        ),
        measures={"distance_km": 1.5},
        requires_confirmation=confirm,
    )


def _now():  # noqa: ANN202
    from tests.api.support import Clock

    return Clock().now


@pytest.fixture
def env(engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    path = tmp_path / "triggers.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("TOCSIN_ALERTS_CONFIG", str(path))
    return make_env(engine, tmp_path / "home")


def _store(env, tier: Tier, *, issued: bool = True, confirm: bool = False) -> str:  # noqa: ANN001
    with write_transaction(env.engine) as conn:
        draft, _ = repo.admit_candidate(
            conn, tiered(tier, f"k-{tier.value}-{issued}", confirm=confirm), mission="M", at=_now()
        )
        if not issued:
            return draft.id
        after, event = issue(draft, actor="system:alerts", at=_now(), ladder=LADDER)
        repo.save_transition(conn, draft, after, [event])
    return draft.id


def _ledger(env) -> list[tuple[str, str, str, dict]]:  # noqa: ANN001
    with env.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.seq))
        return [(r.actor, r.action, r.target, json.loads(r.details)) for r in rows]


READERS = {
    Role.ADMIN: Tier.CONFIDENTIAL,
    Role.PROTECTION_OFFICER: Tier.CONFIDENTIAL,
    Role.ANALYST: Tier.RESTRICTED,
    Role.COMMANDER: Tier.RESTRICTED,
    Role.PARTNER: Tier.PUBLIC,
}


def test_tm_50_a_restricted_alert_never_reaches_a_lower_tier_caller(env) -> None:  # noqa: ANN001
    ids = {tier: _store(env, tier) for tier in TIERS}
    for role, max_tier in READERS.items():
        headers = add_token(env, add_user(env, f"u{role.value.replace('_', '')}", role), ("read",))
        page = env.client.get("/api/v1/alerts", headers=headers)
        assert page.status_code == 200, page.text
        seen = {item["tier"] for item in page.json()["items"]}
        assert seen == {t.value for t in TIERS if t <= max_tier}, role
        assert page.json()["tier"] == max_tier.value
        for tier, alert_id in ids.items():
            one = env.client.get(f"/api/v1/alerts/{alert_id}", headers=headers)
            cap = env.client.get(f"/api/v1/alerts/{alert_id}.cap", headers=headers)
            if tier > max_tier:  # answered like a missing alert: existence does not leak
                assert one.status_code == cap.status_code == 404, (role, tier)
                assert f"Base-{tier.value}" not in one.text + cap.text
                continue
            assert one.status_code == 200 and cap.status_code == 200
            body = one.json()
            detail_visible = max_tier is Tier.CONFIDENTIAL
            assert ("Detail-secret." in body["explanation"]) is detail_visible
            assert ("Site-secret" in cap.text) is detail_visible
            assert ("Detail-secret" in cap.text) is detail_visible
            assert body["complete"] is detail_visible
            assert (body["measures"] == {}) is not detail_visible  # numbers only when complete
            validate_cap(cap.content)
            scope = SafeET.fromstring(cap.content).findtext(f"{{{CAP_NS}}}scope")
            assert scope == ("Public" if max_tier is Tier.PUBLIC else "Restricted")
    reporter = add_token(env, add_user(env, "field", Role.FIELD_REPORTER), ("read",))
    assert env.client.get("/api/v1/alerts", headers=reporter).status_code == 403
    assert env.client.get(f"/api/v1/alerts/{ids[Tier.PUBLIC]}").status_code == 401
    restricted_reads = [e for e in _ledger(env) if e[1] == "alert.read"]
    assert restricted_reads  # reads of restricted and confidential alerts are audited


def test_tm_52_the_feed_gives_anonymous_callers_public_alerts_only(env) -> None:  # noqa: ANN001
    for tier in TIERS:
        _store(env, tier)
    _store(env, Tier.PUBLIC, issued=False)  # a draft is not in any feed
    anonymous = env.client.get("/api/v1/alerts/feed.atom")
    assert anonymous.status_code == 200
    assert anonymous.headers["content-type"].startswith("application/atom+xml")
    feed = SafeET.fromstring(anonymous.content)
    entries = feed.findall(f"{{{ATOM_NS}}}entry")
    assert len(entries) == 1
    assert "Headline-public" in anonymous.text and "Detail-secret" not in anonymous.text
    for tier in ("internal", "restricted", "confidential"):
        assert f"Headline-{tier}" not in anonymous.text
    (cap,) = entries[0].find(f"{{{ATOM_NS}}}content")
    assert cap.findtext(f"{{{CAP_NS}}}scope") == "Public"
    analyst = add_token(env, add_user(env, "ana", Role.ANALYST), ("read",))
    inside = env.client.get("/api/v1/alerts/feed.atom", headers=analyst)
    assert len(SafeET.fromstring(inside.content).findall(f"{{{ATOM_NS}}}entry")) == 3
    assert "Headline-confidential" not in inside.text


def test_tm_54_bad_transitions_are_409_and_change_nothing(env) -> None:  # noqa: ANN001
    issued = _store(env, Tier.INTERNAL)
    draft = _store(env, Tier.INTERNAL, issued=False)
    officer = add_token(env, add_user(env, "po", Role.PROTECTION_OFFICER), ("read", "write"))
    commander = add_token(env, add_user(env, "cmd", Role.COMMANDER), ("read", "write"))
    post = env.client.post
    assert post(f"/api/v1/alerts/{issued}/acknowledge", headers=commander).status_code == 200
    again = post(f"/api/v1/alerts/{issued}/acknowledge", headers=officer)
    assert again.status_code == 409 and "cannot acknowledge" in again.json()["detail"]
    assert post(f"/api/v1/alerts/{issued}/issue", headers=officer).status_code == 409
    closed_draft = post(
        f"/api/v1/alerts/{draft}/close", json={"outcome": "averted"}, headers=officer
    )
    assert closed_draft.status_code == 409
    reject = post(f"/api/v1/alerts/{draft}/close", json={"outcome": "rejected"}, headers=commander)
    assert reject.status_code == 403  # rejecting a draft is for those who may issue
    reader = add_token(env, add_user(env, "cmdr", Role.COMMANDER), ("read",))
    assert post(f"/api/v1/alerts/{issued}/close", json={"outcome": "averted"},
                headers=reader).status_code == 403  # fmt: skip
    with env.engine.connect() as conn:
        assert repo.load_alert(conn, draft).state.value == "draft"
        assert repo.load_alert(conn, issued).acknowledged_by == "user:cmd"
    assert [e[1] for e in _ledger(env) if e[1].startswith("alert.")] == ["alert.acknowledge"]


def test_tm_56_every_step_of_a_response_loop_is_in_the_ledger(env) -> None:  # noqa: ANN001
    draft = _store(env, Tier.INTERNAL, issued=False, confirm=True)
    officer = add_user(env, "officer", Role.PROTECTION_OFFICER)
    csrf = login(env, officer)
    base = f"/api/v1/alerts/{draft}"
    issued = env.client.post(f"{base}/issue", headers=csrf)
    assert issued.status_code == 200, issued.text
    assert issued.json()["issued_by"] == "user:officer" and issued.json()["ack_deadline"]
    assert env.client.post(f"{base}/acknowledge", headers=csrf).status_code == 200
    env.clock.advance(minutes=10)  # sessions expire after idling; keep within that
    assigned = env.client.post(
        f"{base}/responses",
        json={"kind": "patrol", "description": "Day patrol to the site", "assigned_to": "Coy B"},
        headers=csrf,
    )
    assert assigned.status_code == 200 and assigned.json()["state"] == "response_assigned"
    (task,) = assigned.json()["tasks"]
    env.clock.advance(minutes=10)
    started = env.client.post(f"{base}/responses/{task['id']}/start", headers=csrf)
    assert started.json()["tasks"][0]["status"] == "in_progress"
    done = env.client.post(
        f"{base}/responses/{task['id']}/complete", json={"note": "no incident"}, headers=csrf
    )
    assert done.json()["tasks"][0]["status"] == "done"
    closed = env.client.post(
        f"{base}/close", json={"outcome": "averted", "note": "patrol deterred"}, headers=csrf
    )
    assert closed.status_code == 200 and closed.json()["outcome"] == "averted"
    steps = [(a, action) for a, action, t, _ in _ledger(env) if t == f"alert:{draft}"]
    assert steps == [
        ("officer", "alert.issue"),
        ("officer", "alert.deliveries_queued"),
        ("officer", "alert.acknowledge"),
        ("officer", "alert.assign_response"),
        ("officer", "alert.task_start"),
        ("officer", "alert.task_complete"),
        ("officer", "alert.close"),
    ]
    queued = next(d for _, a, t, d in _ledger(env) if a == "alert.deliveries_queued")
    assert queued["withheld_channels"] == ["community"]  # the public SMS channel
    found = env.client.get("/api/v1/alerts/indicators").json()
    assert found["alerts_issued"] == 1 and found["alerts_acknowledged"] == 1
    assert found["median_time_to_response_s"] == 1200.0  # issued -> the patrol started
    assert found["share_response_within_24h"] is None  # not 24 h old yet: not judged
    token = add_token(env, officer, ("read",))
    env.clock.advance(hours=30)
    later = env.client.get("/api/v1/alerts/indicators", headers=token).json()
    assert later["share_response_within_24h"] == 1.0


def test_tm_59_hostile_and_malformed_input(env) -> None:  # noqa: ANN001
    issued = _store(env, Tier.INTERNAL)
    officer = add_user(env, "officer", Role.PROTECTION_OFFICER)
    csrf = login(env, officer)
    base = f"/api/v1/alerts/{issued}"
    post = env.client.post
    assert post(f"{base}/acknowledge").status_code == 403  # no CSRF token
    good = {"kind": "patrol", "description": "x", "assigned_to": "y"}
    for bad in (
        {**good, "extra": 1},
        {**good, "kind": "airstrike"},
        {**good, "description": "x" * 5001},
        {**good, "assigned_to": ""},
    ):
        assert post(f"{base}/responses", json=bad, headers=csrf).status_code == 422, bad
    assert post(f"{base}/close", json={"outcome": "averted", "note": "n" * 5001},
                headers=csrf).status_code == 422  # fmt: skip
    assert post(f"{base}/close", json={"outcome": "whatever"}, headers=csrf).status_code == 422
    assert env.client.get("/api/v1/alerts/no%20such").status_code in (401, 404, 422)
    assert env.client.get("/api/v1/alerts/" + "a" * 37).status_code == 422
    assert env.client.get("/api/v1/alerts/00000000-0000-0000-0000-000000000000").status_code == 404
    assert env.client.get("/api/v1/alerts", params={"state": "nope"}).status_code == 422
    assert env.client.get("/api/v1/alerts", params={"limit": 10_000}).status_code == 422
    with env.engine.connect() as conn:
        assert repo.load_alert(conn, issued).state.value == "issued"  # nothing half-done
