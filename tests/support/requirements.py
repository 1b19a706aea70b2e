"""What a test needs from the machine. In CI a missing need fails the test; elsewhere it skips."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, why: str) -> None:
    if condition:
        return
    if in_ci():
        pytest.fail(f"required for this test in CI: {why}")
    pytest.skip(why)
