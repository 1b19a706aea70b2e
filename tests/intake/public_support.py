"""Helpers of the public reporting tests: an app, clients from different addresses, scans."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from tests.api.support import Env, make_env
from tocsin.intake.service import get_intake
from tocsin.store.schema_all import metadata

TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')
RECEIPT_RE = re.compile(r'id="receipt-code">([^<]+)<')
STATUS_RE = re.compile(r'id="report-status">([^<]+)<')
USER_AGENT = "Mozilla/5.0 (tocsin-test-agent; Android 9)"


@contextmanager
def public_env(engine: Engine, home: Path) -> Iterator[Env]:
    env = make_env(engine, home)
    env.client.headers["user-agent"] = USER_AGENT
    try:
        yield env
    finally:
        intake = getattr(env.app.state, "intake", None)
        if intake is not None:
            intake.close()


def client_from(env: Env, address: str) -> TestClient:
    """A client of the same app seen from another address."""
    return TestClient(
        env.app,
        base_url="http://testserver",
        client=(address, 40000),
        headers={"user-agent": USER_AGENT},
    )


def form_token(client: TestClient, path: str = "/report") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = TOKEN_RE.search(page.text)
    assert match is not None
    return match.group(1)


def every_stored_value(engine: Engine) -> list[str]:
    """Every value in every table of the store, as text."""
    out: list[str] = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        out.append(bytes(value).decode("latin-1"))
                    elif value is not None:
                        out.append(str(value))
    return out


def intake_service(env: Env):  # noqa: ANN201
    class _Req:
        app = env.app

    return get_intake(_Req())  # type: ignore[arg-type]
