"""Settings of the API server: one object, built from the environment or by tests, handed to
``create_app`` (no module-level state)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from tocsin import config
from tocsin.security.passwords import Passwords
from tocsin.security.sessions import SessionTimeouts
from tocsin.security.throttle import ThrottlePolicy

MiB = 1024 * 1024


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RateRule:
    """At most ``per_minute`` requests per client address on paths starting with ``prefix``
    (and, if given, only for ``methods``), with bursts up to ``burst``."""

    name: str
    prefix: str
    per_minute: float
    burst: int
    methods: frozenset[str] = frozenset()
    exact: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.methods and method not in self.methods:
            return False
        return path == self.prefix if self.exact else path.startswith(self.prefix)


DEFAULT_RATE_RULES: tuple[RateRule, ...] = (
    RateRule("login", "/api/v1/auth/login", 20, 10, frozenset({"POST"})),
    RateRule("overview", "/", 120, 30, exact=True),
    RateRule("health", "/api/v1/health", 600, 60),
)


# SMS webhooks are a few hundred bytes (tocsin.intake.gateways.MAX_BODY_BYTES); an OpenRosa
# submission is its XML plus up to five photos (tocsin.intake.openrosa.OPENROSA_HEADERS' accepted
# length) plus multipart framing. tests/intake check that these agree with those modules.
INTAKE_BODY_LIMITS: dict[str, int] = {
    "/api/v1/intake/sms/": 16 * 1024,
    "/openrosa/submission": 512 * 1024 + 5 * 10 * MiB + 64 * 1024,
}


@dataclass(slots=True)
class Settings:
    home: Path = field(default_factory=config.home)
    # Bodies: JSON requests stay small; only file uploads (imports) may be large.
    max_body_bytes: int = 1 * MiB
    upload_paths: tuple[str, ...] = ("/api/v1/imports",)
    max_upload_bytes: int = 512 * MiB
    # Intake channels with their own, exact limits (path prefix -> bytes); checked first.
    path_body_limits: dict[str, int] = field(default_factory=lambda: dict(INTAKE_BODY_LIMITS))
    sessions: SessionTimeouts = field(default_factory=SessionTimeouts)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    rate_rules: list[RateRule] = field(default_factory=lambda: list(DEFAULT_RATE_RULES))
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    page_max: int = 500
    sync_export_limit: int = 10_000
    export_ttl: timedelta = timedelta(hours=24)
    checkpoint_every: int = 500  # audit entries between automatic signed checkpoints
    maintenance_interval: timedelta = timedelta(minutes=5)
    # Alert rounds (tocsin.alerts.scheduler) from the maintenance loop; None: off (tests, and
    # deployments that run `tocsin alerts evaluate` from cron instead).
    alerts_interval: timedelta | None = None
    passwords: Passwords = field(default_factory=Passwords)
    clock: Callable[[], datetime] = _utcnow

    @classmethod
    def from_env(cls) -> Settings:
        s = cls()
        if v := os.environ.get("TOCSIN_MAX_BODY_BYTES"):
            s.max_body_bytes = int(v)
        if v := os.environ.get("TOCSIN_MAX_UPLOAD_BYTES"):
            s.max_upload_bytes = int(v)
        if v := os.environ.get("TOCSIN_COOKIE_SECURE"):
            if v not in ("auto", "always", "never"):
                raise ValueError("TOCSIN_COOKIE_SECURE must be auto, always or never")
            s.cookie_secure = v  # type: ignore[assignment]
        if v := os.environ.get("TOCSIN_SYNC_EXPORT_LIMIT"):
            s.sync_export_limit = int(v)
        if v := os.environ.get("TOCSIN_EXPORT_TTL_HOURS"):
            s.export_ttl = timedelta(hours=float(v))
        if v := os.environ.get("TOCSIN_ALERTS_INTERVAL_MINUTES"):
            minutes = float(v)
            s.alerts_interval = timedelta(minutes=minutes) if minutes > 0 else None
        return s

    def body_limit_for(self, path: str) -> int:
        for prefix, limit in self.path_body_limits.items():
            if path.startswith(prefix):
                return limit
        if any(path.startswith(p) for p in self.upload_paths):
            return self.max_upload_bytes
        return self.max_body_bytes

    @property
    def export_dir(self) -> Path:
        return self.home / "exports"
