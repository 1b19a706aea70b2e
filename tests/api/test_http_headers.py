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


def _raw_status(port: int, request: bytes) -> int | None:
    """The status code of the server's answer to raw bytes, or None if it closed the connection
    without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(request)
            data = sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            return None
    if not data:
        return None
    assert data.startswith(b"HTTP/1.1 "), data[:80]
    status = int(data.split(b" ", 2)[1])
    assert status < 500, data[:200]
    return status


def _trickled_head_status(port: int) -> int | None:
    """One header sent 4 KiB at a time and never finished: refused once the head passes the
    limit, rather than buffered without end."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            for _ in range(64):  # 256 KiB in all if nothing stopped it
                sock.sendall(b"a" * 4096)
                time.sleep(0.01)
        except (ConnectionResetError, BrokenPipeError):
            pass
        try:
            data = sock.recv(4096)
        except ConnectionResetError:
            return None
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else None


def test_tm87_real_server_bounds_the_request_head_and_refuses_malformed_heads(
    tmp_path: Path,
) -> None:
    """``tocsin serve`` parses HTTP with httptools (ADR 0010), which has no limit of its own
    on a request head: ours refuses more than 16 KiB with 431, whether it arrives at once or
    trickles in, and malformed or smuggling heads get 400, never a 5xx or a dead server."""
    port = _free_port()
    proc = _serve(tmp_path, port, subprocess.DEVNULL)
    try:
        _wait_for_health(port, proc)
        assert _raw_status(port, b"GARBAGE \x00\x01 nonsense\r\n\r\n") == 400
        assert (
            _raw_status(port, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
            == 400
        )
        huge = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
        assert _raw_status(port, huge) in (431, None)  # refused, or closed while it sent
        big_head = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000
        assert _raw_status(port, big_head + b"\r\n\r\n") == 431
        assert _trickled_head_status(port) == 431
        under = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 15_000
        assert _raw_status(port, under + b"\r\n\r\n") == 200
        assert _pipelined_statuses(port, 40) == [200] * 40  # the count restarts per request
        # A large body in the same read as a small head is the body limit's business, not 431.
        post = b"POST /api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 30000\r\n\r\n"
        assert _raw_status(port, post + b"b" * 30_000) in (405, 413)
        smuggle = (
            b"POST /api/v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        assert _raw_status(port, smuggle) in (400, 405, None)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=5).status_code == 200
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pipelined_statuses(port: int, n: int) -> list[int]:
    """``n`` keep-alive requests sent in one write (1 KiB of headers each, 40 KiB in all)."""
    one = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 1000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(one * n)
        data = b""
        while data.count(b"HTTP/1.1 ") < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return [int(part.split(b" ", 1)[0]) for part in data.split(b"HTTP/1.1 ")[1:]]


def _serve(tmp_path: Path, port: int, output: int) -> subprocess.Popen:
    """``tocsin serve`` on 127.0.0.1:``port``, its output to ``output`` (stderr with it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tocsin.cli", "serve", "--port", str(port)],
        env={**os.environ, "TOCSIN_HOME": str(tmp_path / "home")},
        stdout=output,
        stderr=subprocess.STDOUT,
    )


def _wait_for_health(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    raise AssertionError("tocsin serve did not answer /api/v1/health")


def test_tm09_real_server_sends_no_server_header(tmp_path: Path) -> None:
    """``tocsin serve`` itself (uvicorn) on 127.0.0.1: no banner, hardened headers."""
    port = _free_port()
    proc = _serve(tmp_path, port, subprocess.PIPE)
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
