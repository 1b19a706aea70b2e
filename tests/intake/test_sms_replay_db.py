"""The SMS webhook replay cache in the database (TM-85, TM-86), on SQLite and PostgreSQL.

TM-85: a replay is refused after a restart and whichever worker it reaches.
TM-86: the table stays bounded (expired entries are pruned), a crashed request does not burn its
nonce for good, and malformed or oversized signatures are still refused before anything is kept.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, func, select

from tests.api.support import Env
from tests.intake.channel_support import (
    GENERIC_SECRET,
    TELERIVET_SECRET,
    TWILIO_TOKEN,
    count_reports,
    intake_env,
)
from tocsin.intake import gateways
from tocsin.intake.gateways import sign_generic, twilio_signature
from tocsin.store.db import make_engine
from tocsin.store.replay_cache import CLAIM_LEASE_S, DatabaseNonceCache, nonce_key
from tocsin.store.schema_replay import webhook_replay

PHONE = "+23672123456"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def generic_post(env: Env, fields: dict[str, str], *, nonce: str, signature: str | None = None):
    body = urlencode(fields).encode()
    ts = int(env.clock().timestamp())
    headers = {
        **FORM,
        "X-Tocsin-Timestamp": str(ts),
        "X-Tocsin-Nonce": nonce,
        "X-Tocsin-Signature": sign_generic(GENERIC_SECRET, ts, nonce, body)
        if signature is None
        else signature,
    }
    return env.client.post("/api/v1/intake/sms/generic", content=body, headers=headers)


def twilio_post(env: Env, sid: str, text: str):
    url = "http://testserver/api/v1/intake/sms/twilio"
    pairs = [("MessageSid", sid), ("From", PHONE), ("To", "+23670000000"), ("Body", text)]
    headers = {**FORM, "X-Twilio-Signature": twilio_signature(TWILIO_TOKEN, url, pairs)}
    return env.client.post(url, content=urlencode(pairs).encode(), headers=headers)


def telerivet_post(env: Env, message_id: str, text: str):
    fields = {
        "event": "incoming_message",
        "secret": TELERIVET_SECRET,
        "id": message_id,
        "from_number": PHONE,
        "content": text,
        "time_created": str(int(env.clock().timestamp())),
    }
    return env.client.post(
        "/api/v1/intake/sms/telerivet", content=urlencode(fields).encode(), headers=FORM
    )


def replay_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(webhook_replay)).scalar_one()


def send_all(env: Env, tag: str) -> list[int]:
    """One message per gateway; the same call again is a replay of each."""
    return [
        generic_post(
            env, {"from": PHONE, "text": f"ALERT Bria KIL 3 {tag}"}, nonce=tag * 20
        ).status_code,
        twilio_post(env, "SM" + tag * 32, f"twilio {tag}").status_code,
        telerivet_post(env, f"msg-{tag * 8}", f"telerivet {tag}").status_code,
    ]


# -- TM-85 replays across restarts and workers --------------------------------------------------


def test_tm_85_replay_after_a_restart_is_refused(engine: Engine, tmp_path: Path) -> None:
    home = tmp_path / "home"
    with intake_env(engine, home) as (first, outbound):
        assert send_all(first, "a") == [200, 200, 200]
        assert len(outbound.sent) == 3
    # A new app on the same database and home: what a restarted server is.
    with intake_env(engine, home) as (restarted, outbound):
        replays = [
            generic_post(restarted, {"from": PHONE, "text": "ALERT Bria KIL 3 a"}, nonce="a" * 20),
            twilio_post(restarted, "SM" + "a" * 32, "twilio a"),
            telerivet_post(restarted, f"msg-{'a' * 8}", "telerivet a"),
        ]
        assert [r.status_code for r in replays] == [409, 409, 409]
        assert all("already received" in r.json()["detail"] for r in replays)
        assert outbound.sent == []  # no second acknowledgement
    assert count_reports(engine) == 3


def test_tm_85_replay_reaching_a_second_worker_is_refused(engine: Engine, tmp_path: Path) -> None:
    with (
        intake_env(engine, tmp_path / "home") as (worker_a, _),
        intake_env(engine, tmp_path / "home") as (worker_b, outbound_b),
    ):
        assert send_all(worker_a, "b") == [200, 200, 200]
        assert send_all(worker_b, "b") == [409, 409, 409]
        assert outbound_b.sent == []
        # And the other way round.
        assert send_all(worker_b, "c") == [200, 200, 200]
        assert send_all(worker_a, "c") == [409, 409, 409]
    assert count_reports(engine) == 6


def test_tm_85_the_same_request_at_two_workers_at_once_is_taken_once(
    engine: Engine, tmp_path: Path
) -> None:
    with (
        intake_env(engine, tmp_path / "home") as (worker_a, _),
        intake_env(engine, tmp_path / "home") as (worker_b, _),
    ):
        statuses: list[int] = []
        barrier = threading.Barrier(2)

        def deliver(env: Env) -> None:
            barrier.wait()
            statuses.append(twilio_post(env, "SM" + "d" * 32, "raced").status_code)

        threads = [threading.Thread(target=deliver, args=(w,)) for w in (worker_a, worker_b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(statuses) == [200, 409]
    assert count_reports(engine) == 1


def _claim_in_process(url: str, keys: list[str], now: float, out: multiprocessing.Queue) -> None:
    engine = make_engine(url, migrate=False)  # the parent migrated it
    try:
        cache = DatabaseNonceCache(engine)
        out.put([k for k in keys if cache.add(k, expires_at=now + 600, now=now)])
    finally:
        engine.dispose()


def test_tm_85_two_worker_processes_never_both_accept_a_nonce(db_url: str, engine: Engine) -> None:
    """Real processes, each with its own engine and pool, claiming the same 40 nonces."""
    keys = [f"generic:{i:020d}" for i in range(40)]
    # fork: the children start in milliseconds and build their own engine (no shared pool).
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    workers = [
        context.Process(target=_claim_in_process, args=(db_url, keys, 1_800_000_000.0, out))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    won = [out.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sorted(won[0] + won[1]) == sorted(keys)  # each nonce accepted exactly once
    assert replay_rows(engine) == len(keys)


# -- TM-86 bounded table, crashed requests, malformed signatures -------------------------------


def test_tm_86_expired_entries_are_pruned_in_bounded_batches(engine: Engine) -> None:
    cache = DatabaseNonceCache(engine, prune_batch=5)
    now = 1_800_000_000.0
    for i in range(12):
        assert cache.add(f"telerivet:old-{i:04d}", expires_at=now + 600, now=now)
        cache.complete([f"telerivet:old-{i:04d}"])
    assert replay_rows(engine) == 12
    # Still inside the window: nothing is pruned, and a replay is refused.
    assert cache.add("telerivet:new-0001", expires_at=now + 900, now=now + 300)
    assert not cache.add("telerivet:old-0000", expires_at=now + 900, now=now + 300)
    assert replay_rows(engine) == 13
    # Past expiry, each new claim deletes at most one batch of expired rows.
    later = now + 601
    assert cache.add("telerivet:new-0002", expires_at=later + 600, now=later)
    assert replay_rows(engine) == 13 + 1 - 5
    assert cache.prune(later, batch=100) == 7
    assert replay_rows(engine) == 2
    with engine.connect() as conn:
        left = set(conn.execute(select(webhook_replay.c.nonce_key)).scalars())
    assert left == {nonce_key("telerivet:new-0001"), nonce_key("telerivet:new-0002")}


def test_tm_86_an_expired_nonce_can_be_claimed_again(engine: Engine) -> None:
    """Past the skew window the timestamp check refuses the request anyway; the cache must not
    hold on to the row for ever (Twilio message ids have their own, longer expiry)."""
    cache = DatabaseNonceCache(engine)
    now = 1_800_000_000.0
    assert cache.add("generic:" + "x" * 20, expires_at=now + 600, now=now)
    cache.complete(["generic:" + "x" * 20])
    assert not cache.add("generic:" + "x" * 20, expires_at=now + 1200, now=now + 599)
    assert cache.add("generic:" + "x" * 20, expires_at=now + 1300, now=now + 700)


def test_tm_86_a_claim_left_by_a_crashed_request_is_taken_over_after_the_lease(
    engine: Engine,
) -> None:
    cache = DatabaseNonceCache(engine)
    now = 1_800_000_000.0
    key = "twilio:SM" + "e" * 32
    assert cache.add(key, expires_at=now + 7 * 86400, now=now)  # then the worker died
    assert not cache.add(key, expires_at=now + 7 * 86400, now=now + 5)  # request may be live
    assert cache.add(key, expires_at=now + 7 * 86400, now=now + CLAIM_LEASE_S + 1)
    cache.complete([key])
    # A completed claim is never taken over: only expiry frees it.
    assert not cache.add(key, expires_at=now + 8 * 86400, now=now + 3 * 86400)
    # forget only drops claims still in progress, never answered ones.
    cache.forget(key)
    assert not cache.add(key, expires_at=now + 8 * 86400, now=now + 3 * 86400)


def test_tm_86_a_failed_store_gives_the_nonce_back_in_the_database(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    with intake_env(engine, tmp_path / "home") as (env, _):
        env.client = TestClient(env.app, raise_server_exceptions=False)
        assert twilio_post(env, "SM" + "f" * 32, "first").status_code == 200
        service = env.app.state.intake

        async def failing(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("database unavailable")

        monkeypatch.setattr(service, "accept_async", failing)
        assert twilio_post(env, "SM" + "g" * 32, "second").status_code == 500
        assert replay_rows(engine) == 1  # only the stored message's nonce is kept
        monkeypatch.undo()
    with intake_env(engine, tmp_path / "home") as (restarted, _):
        assert twilio_post(restarted, "SM" + "g" * 32, "second").status_code == 200
    assert count_reports(engine) == 2


MALFORMED = [
    ("short", None),  # nonce below 16 characters
    ("n" * 129, None),  # nonce above 128 characters
    ("bad nonce; drop table!", None),
    ("h" * 20, "v1=" + "0" * 64),  # well formed, wrong
    ("i" * 20, "v1=" + "zz" * 32),  # not hex
    ("j" * 20, "v1=" + "a" * 4000),  # oversized signature header
    ("k" * 20, "sha1=abc"),  # wrong scheme
    ("l" * 20, ""),  # empty
]


def test_tm_86_malformed_and_oversized_signatures_are_refused_and_leave_no_trace(
    engine: Engine, tmp_path: Path
) -> None:
    with intake_env(engine, tmp_path / "home") as (env, outbound):
        for nonce, signature in MALFORMED:
            fields = {"from": PHONE, "text": "ALERT Bria KIL 3"}
            response = generic_post(env, fields, nonce=nonce, signature=signature)
            assert response.status_code == 403, (nonce[:20], response.text)
        assert outbound.sent == []
        # The refusals kept nothing: the same nonce, properly signed, is accepted after them.
        good = generic_post(env, {"from": PHONE, "text": "ALERT Bria KIL 3"}, nonce="h" * 20)
        assert good.status_code == 200
    assert replay_rows(engine) == 1
    assert count_reports(engine) == 1


def test_tm_86_nonce_keys_have_a_fixed_size() -> None:
    assert len(nonce_key("generic:" + "n" * 128)) == 64
    assert nonce_key("twilio:a") != nonce_key("telerivet:a")
    assert gateways.NONCE_TTL_S == 2 * gateways.TIMESTAMP_WINDOW_S
