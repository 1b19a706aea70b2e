"""Many concurrent requests on one token: no pool exhaustion, no lost audit entries.

Regression test: bookkeeping writes (a token's last-used time) once opened a second database
connection while the request held its first; fifty concurrent requests then held every pooled
connection and waited for another one until the pool timed out.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.api.support import add_token, add_user, public_and_restricted_env
from tocsin.security import audit
from tocsin.security.policies import Role
from tocsin.store.schema_security import audit_log


@pytest.fixture
def env(engine, tmp_path: Path):  # noqa: ANN201
    return public_and_restricted_env(engine, tmp_path / "home")


def test_sixty_concurrent_requests_with_one_token(env) -> None:
    token = add_token(env, add_user(env, "cmd", Role.COMMANDER), ("read",))

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=env.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=token, timeout=60
        ) as client:
            responses = await asyncio.gather(*(client.get("/api/v1/events") for _ in range(60)))
        return [r.status_code for r in responses]

    statuses = asyncio.run(main())
    assert statuses == [200] * 60
    with env.engine.connect() as conn:
        reads = conn.scalar(
            select(func.count()).select_from(audit_log).where(audit_log.c.action == "event.read")
        )
        assert reads == 60  # every response carried the restricted record, each audited
        assert audit.verify(conn, None).ok
