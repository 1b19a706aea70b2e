"""Schemathesis against the live OpenAPI schema: generated requests (positive and negative
modes) to every operation, as an admin with a fresh session each time, so that logging out or
resetting 2FA in one example does not blind the next. No response may be a server error.

Bounded: five examples per operation and mode, about 20 s in all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.api.support import add_user, make_env, matrix_event, store_events
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security import sessions
from tocsin.security.policies import Role
from tocsin.security.txn import write_transaction
from tocsin.store.db import make_engine

MAX_EXAMPLES = 5


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root: Path = tmp_path_factory.mktemp("schemathesis")
    engine = make_engine(f"sqlite:///{root / 'tocsin.sqlite'}")
    env = make_env(engine, root / "home")
    env.settings.rate_rules.clear()  # rate limits are tested elsewhere; here they only hide
    admin = add_user(env, "root", Role.ADMIN)
    add_user(env, "pat", Role.PARTNER)
    store_events(
        env,
        [
            matrix_event(tier, cc, f"{tier.value}-{cc.value}")
            for tier in SensitivityTier
            for cc in CaseClass
        ],
    )
    env.admin = admin  # type: ignore[attr-defined]
    yield env
    engine.dispose()


def _run_operation(api, operation, mode: GenerationMode, failures: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case) -> None:  # noqa: ANN001
        with write_transaction(api.engine) as conn:
            token, info = sessions.start(conn, api.admin.id, api.clock(), api.settings.sessions)
        response = case.call(
            cookies={sessions.COOKIE_NAME: token},
            headers={"X-CSRF-Token": info.csrf_token},
        )
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:200]}"
            )

    run()


def test_no_server_errors(api) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _run_operation(api, operation, mode, failures)
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing invalid to send (no inputs)
    assert not failures, "\n".join(failures[:20])
