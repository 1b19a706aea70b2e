"""Security headers on every kind of response, and no server fingerprint (TM-09)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.support import add_token, add_user, make_env
from tocsin.security.policies import Role


@pytest.fixture
def env(sqlite_engine, tmp_path: Path):  # noqa: ANN201 - headers do not depend on storage
    return make_env(sqlite_engine, tmp_path / "home")


def _assert_hardened(response: httpx.Response) -> None:
    h = response.headers
    csp = h["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "object-src 'none'" in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cache-control"] == "no-store"
    assert "server" not in h
    assert "x-powered-by" not in h


def test_tm09_headers_on_success_error_and_validation_responses(env) -> None:
    pat = add_user(env, "pat", Role.PARTNER)
    token = add_token(env, pat)
    responses = [
        env.client.get("/api/v1/health"),
        env.client.get("/api/v1/events", headers=token),
        env.client.get("/api/v1/events"),  # 401
        env.client.get("/api/v1/events/nope", headers=token),  # 404
        env.client.get("/api/v1/events", params={"bogus": "1"}, headers=token),  # 422
        env.client.get("/api/v1/openapi.json"),
        env.client.get("/"),
        env.client.post("/api/v1/auth/login", content=b"x" * (2 * 1024 * 1024)),  # 413
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 404, 422, 200, 200, 413]
    for r in responses:
        _assert_hardened(r)


def test_sensitive_responses_are_not_cacheable(env) -> None:
    pat = add_user(env, "pat", Role.PARTNER)
    r = env.client.get("/api/v1/exports/events", headers=add_token(env, pat))
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["content-disposition"].startswith("attachment;")


def test_no_interactive_docs_with_inline_scripts(env) -> None:
    assert env.client.get("/docs").status_code == 404
    assert env.client.get("/redoc").status_code == 404


def test_hsts_only_under_tls(env) -> None:
    assert "strict-transport-security" not in env.client.get("/api/v1/health").headers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tm09_real_server_sends_no_server_header(tmp_path: Path) -> None:
    """``tocsin serve`` itself (uvicorn) on 127.0.0.1: no banner, hardened headers."""
    port = _free_port()
    env = {**os.environ, "TOCSIN_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tocsin.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        response = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    break
                time.sleep(0.2)
        assert response is not None, proc.stdout.read().decode() if proc.stdout else ""
        assert response.status_code == 200
        _assert_hardened(response)
        events = httpx.get(f"http://127.0.0.1:{port}/api/v1/events?bbox=1,2,3,4", timeout=5)
        assert events.status_code == 401
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    log = out.decode()
    assert "GET /api/v1/events 401" in log  # our access log: the path...
    assert "bbox" not in log  # ...never the query string
