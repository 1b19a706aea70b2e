"""Shared scenarios: generating one takes a fraction of a second, so each is made once."""

from __future__ import annotations

from datetime import date

import pytest

from tocsin.scenario.generator import build_scenario
from tocsin.scenario.model import Scenario

DEMO_ARGS = ("CAF", 48, 7)


@pytest.fixture(scope="session")
def demo_scenario() -> Scenario:
    """What ./scripts/demo loads."""
    return build_scenario(*DEMO_ARGS)


@pytest.fixture(scope="session")
def long_scenario() -> Scenario:
    """Ten years, as long as the calibration window: enough events for tail statistics."""
    return build_scenario("CAF", 120, 3, start=date(2013, 1, 1))
