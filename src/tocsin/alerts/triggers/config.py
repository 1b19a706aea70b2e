"""Per-mission trigger definitions, loaded from YAML and validated strictly.

A typo in a trigger file must not silently switch off a warning, so every model forbids unknown
keys, and errors name the file, line and YAML path (``triggers[2].level``) of each problem.
See ``docs/examples/triggers.yaml`` for a commented example.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tocsin.alerts.delivery.dispatch import Channel
from tocsin.alerts.lifecycle import EscalationLadder, EscalationStep
from tocsin.alerts.model import Certainty, Severity, Urgency
from tocsin.alerts.triggers.proximity import ProtectedSite, SiteKind
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import CaseClass, PocThreatCategory, SensitivityTier, ViolenceType

MAX_FILE_BYTES = (
    1_000_000  # a trigger file is hand-written; anything bigger is a mistake or hostile
)
_DURATION = re.compile(r"^\s*(\d{1,6})\s*(m|min|h|d|w)\s*$")
_UNIT = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


def parse_duration(value: Any) -> timedelta:
    """'30m', '2h', '3d', '1w' -> timedelta. Bare numbers are refused: their unit is ambiguous."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError("a duration is written like '30m', '2h', '3d' or '1w'")
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a duration like '30m', '2h', '3d' or '1w'")
    return timedelta(**{_UNIT[match.group(2)]: int(match.group(1))})


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TriggerBase(_Strict):
    id: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1, max_length=200)
    enabled: bool = True
    tier: SensitivityTier = SensitivityTier.INTERNAL
    severity: Severity = Severity.SEVERE
    urgency: Urgency = Urgency.EXPECTED
    certainty: Certainty = Certainty.POSSIBLE
    threat_category: PocThreatCategory | None = None
    instruction: str | None = Field(default=None, max_length=2000)


class RiseRule(_Strict):
    """Fires when the probability rose by at least ``min_increase`` (absolute, 0-1) since the
    previous run and, if given, by at least a factor ``min_ratio``."""

    min_increase: float = Field(gt=0, le=1)
    min_ratio: float | None = Field(default=None, ge=1)


class ForecastRiskTrigger(_TriggerBase):
    kind: Literal["forecast_risk"]
    outcome: Literal["p_ge_1", "p_ge_25"]
    level: float | None = Field(default=None, gt=0, le=1)
    rise: RiseRule | None = None

    @model_validator(mode="after")
    def _needs_a_condition(self) -> ForecastRiskTrigger:
        if self.level is None and self.rise is None:
            raise ValueError("a forecast_risk trigger needs a 'level', a 'rise', or both")
        return self


class CusumSettings(_Strict):
    """Poisson CUSUM (Lucas 1985) on counts per ``bin_days``: tuned to detect a rise of the rate
    by a factor ``shift``; alarms when the cumulative sum exceeds ``threshold``."""

    bin_days: int = Field(default=7, ge=1, le=90)
    shift: float = Field(default=2.0, gt=1, le=20)
    threshold: float = Field(default=4.0, gt=0, le=100)


class SurgeTrigger(_TriggerBase):
    kind: Literal["surge"]
    measure: Literal["incidents", "fatalities"] = "incidents"
    method: Literal["poisson", "negative_binomial", "cusum"] = "negative_binomial"
    window_days: int = Field(default=30, ge=1, le=365)
    history_days: int = Field(default=365, ge=2, le=3650)
    p_value: float = Field(default=0.01, gt=0, le=0.5)
    min_count: int = Field(default=3, ge=1)
    min_expected: float = Field(
        default=0.1,
        gt=0,
        description="floor on the expected count per window, so a quiet area's first incident "
        "is not an infinitely improbable surge",
    )
    violence_types: tuple[ViolenceType, ...] | None = None
    cusum: CusumSettings = CusumSettings()

    @model_validator(mode="after")
    def _history_long_enough(self) -> SurgeTrigger:
        if self.history_days < 3 * self.window_days:
            raise ValueError(
                f"history_days ({self.history_days}) must be at least three windows "
                f"(3 x {self.window_days}) to estimate what is normal"
            )
        return self


class ProximityTrigger(_TriggerBase):
    kind: Literal["proximity"]
    radius_km: float = Field(gt=0, le=500)
    site_kinds: tuple[SiteKind, ...] = Field(min_length=1)
    include: tuple[Literal["verified_incident", "credible_threat"], ...] = (
        "verified_incident",
        "credible_threat",
    )
    max_location_uncertainty_km: float = Field(default=25, ge=0, le=500)
    validity: Duration = timedelta(days=7)
    urgency: Urgency = Urgency.IMMEDIATE
    # What makes an intake report a *credible threat*: an analyst has taken it to one of
    # ``threat_states`` and graded it (Admiralty) with credibility 1..``threat_max_credibility``
    # from a source whose reliability is one of ``threat_reliabilities``. Ungraded reports and
    # reports still in triage never count, whatever these say.
    threat_states: tuple[Literal["verified", "under_verification", "unverified"], ...] = Field(
        default=("verified",), min_length=1
    )
    threat_max_credibility: int = Field(
        default=2,
        ge=1,
        le=5,
        description="highest Admiralty credibility that counts: 1 confirmed, 2 probably true, "
        "3 possibly true, 4 doubtful, 5 improbable (6, cannot be judged, never counts)",
    )
    threat_reliabilities: tuple[SourceReliability, ...] = Field(
        default=tuple(SourceReliability), min_length=1
    )
    case_classes: tuple[CaseClass, ...] = Field(
        default=(CaseClass.GENERAL,),
        min_length=1,
        description="case classes whose incidents and threat reports feed this trigger; an "
        "alert from a restricted class is delivered only where that class is cleared",
    )

    def counts_as_credible(
        self,
        state: str,
        reliability: SourceReliability | None,
        credibility: InformationCredibility | None,
    ) -> bool:
        """The documented rule (see above), on one report's case."""
        if state not in self.threat_states or reliability is None or credibility is None:
            return False
        if credibility is InformationCredibility.CANNOT_BE_JUDGED:
            return False
        return (
            int(credibility.value) <= self.threat_max_credibility
            and reliability in self.threat_reliabilities
        )


class KeywordsTrigger(_TriggerBase):
    kind: Literal["keywords"]
    patterns: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    threat_categories: tuple[PocThreatCategory, ...] = ()
    max_gap_words: int = Field(default=2, ge=0, le=10)
    validity: Duration = timedelta(days=3)
    certainty: Certainty = Certainty.UNKNOWN

    @field_validator("patterns")
    @classmethod
    def _patterns_ok(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for lang, phrases in value.items():
            if not re.fullmatch(r"[a-z]{2,3}", lang):
                raise ValueError(f"language {lang!r} must be an ISO 639 code such as 'en' or 'fr'")
            if len(phrases) > 500:
                raise ValueError(f"too many patterns for {lang!r} (at most 500)")
            for phrase in phrases:
                if not phrase.strip() or len(phrase) > 200:
                    raise ValueError(f"pattern {phrase!r} must be 1-200 characters")
                if phrase.strip() == "*":
                    raise ValueError("a pattern of only '*' would match every report")
        return value

    @model_validator(mode="after")
    def _needs_something(self) -> KeywordsTrigger:
        if not any(self.patterns.values()) and not self.threat_categories:
            raise ValueError("a keywords trigger needs 'patterns' or 'threat_categories'")
        return self


Trigger = Annotated[
    ForecastRiskTrigger | SurgeTrigger | ProximityTrigger | KeywordsTrigger,
    Field(discriminator="kind"),
]


class LatLon(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)

    @field_validator("lat", "lon")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("coordinates must be finite numbers")
        return v


class SiteConfig(_Strict):
    id: str = Field(pattern=_SLUG)
    name: str = Field(min_length=1, max_length=200)
    kind: SiteKind
    point: LatLon | None = None
    route: tuple[LatLon, ...] | None = Field(default=None, min_length=2, max_length=10_000)
    tier: SensitivityTier = SensitivityTier.RESTRICTED
    area: str | None = Field(
        default=None,
        max_length=200,
        description="a coarse, lower-tier description (e.g. the admin-1 name) that channels "
        "below the site's tier may see instead of its position",
    )

    @model_validator(mode="after")
    def _one_geometry(self) -> SiteConfig:
        if (self.point is None) == (self.route is None):
            raise ValueError("a site needs exactly one of 'point' or 'route'")
        return self

    def to_site(self) -> ProtectedSite:
        if self.point is not None:
            coords: tuple[tuple[float, float], ...] = ((self.point.lat, self.point.lon),)
        else:
            assert self.route is not None
            coords = tuple((p.lat, p.lon) for p in self.route)
        return ProtectedSite(self.id, self.name, self.kind, coords, self.tier, self.area)


class EscalationConfig(_Strict):
    """``ack_deadline`` per CAP urgency (``default`` for the rest); the ladder's ``after`` is
    counted from the moment the deadline was missed."""

    ack_deadline: dict[
        Literal["default", "Immediate", "Expected", "Future", "Past", "Unknown"], Duration
    ]
    ladder: tuple[EscalationStepConfig, ...] = Field(min_length=1, max_length=20)

    @field_validator("ack_deadline")
    @classmethod
    def _has_default(cls, value: dict[str, timedelta]) -> dict[str, timedelta]:
        if "default" not in value:
            raise ValueError("ack_deadline needs a 'default' entry")
        for key, duration in value.items():
            if duration <= timedelta(0):
                raise ValueError(f"ack_deadline {key!r} must be positive")
        return value

    @field_validator("ladder")
    @classmethod
    def _increasing(
        cls, value: tuple[EscalationStepConfig, ...]
    ) -> tuple[EscalationStepConfig, ...]:
        afters = [step.after for step in value]
        if afters != sorted(set(afters)):
            raise ValueError("ladder steps must have strictly increasing 'after' durations")
        return value

    def to_ladder(self) -> EscalationLadder:
        deadlines = {Urgency(k): v for k, v in self.ack_deadline.items() if k != "default"}
        return EscalationLadder(
            default_ack_deadline=self.ack_deadline["default"],
            ack_deadline_by_urgency=deadlines,
            steps=tuple(EscalationStep(s.after, s.notify) for s in self.ladder),
        )


class EscalationStepConfig(_Strict):
    after: Duration
    notify: tuple[str, ...] = Field(min_length=1)

    @field_validator("notify")
    @classmethod
    def _role_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for role in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", role):
                raise ValueError(f"{role!r} is not a role name (lower-case, digits, underscores)")
        return value


EscalationConfig.model_rebuild()


class ChannelConfig(_Strict):
    """An outbound recipient and the highest tier it is cleared for. Secrets (webhook HMAC
    keys, SMTP password) are never in this file: see ``tocsin.alerts.senders``."""

    name: str = Field(pattern=_SLUG)
    kind: Literal["webhook", "email", "sms"]
    target: str = Field(min_length=1, max_length=2000)
    tier: SensitivityTier
    max_attempts: int = Field(default=8, ge=1, le=50)
    allow_http: bool = False
    escalation_roles: tuple[str, ...] = Field(
        default=(),
        max_length=20,
        description="roles of the escalation ladder this recipient stands for",
    )
    on_issue: bool = Field(default=True, description="false: receives escalations only")
    case_classes: tuple[CaseClass, ...] = Field(
        default=(CaseClass.GENERAL,),
        min_length=1,
        description="case classes this recipient is cleared for (alerts derived from a "
        "restricted-class report or incident go only where their class is listed)",
    )

    @model_validator(mode="after")
    def _target_ok(self) -> ChannelConfig:
        self.to_channel()  # raises ValueError with the reason (bad URL, address, number)
        return self

    def to_channel(self) -> Channel:
        return Channel(
            self.name,
            self.kind,
            self.target,
            self.tier,
            self.max_attempts,
            self.allow_http,
            frozenset(self.escalation_roles),
            self.on_issue,
            frozenset(self.case_classes),
        )


_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def check_public_url(url: str) -> str:
    """The base address staff reach Tocsin at, without a trailing slash: https (http only on
    this machine), a host, an optional path prefix, and nothing a link should not carry."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise ValueError("public_url must use https (http only for localhost)")
    if not parts.hostname or parts.username or parts.password:
        raise ValueError("public_url needs a host and no user name or password")
    if parts.query or parts.fragment or any(ch.isspace() for ch in url):
        raise ValueError("public_url must not carry a query, a fragment or spaces")
    return url.rstrip("/")


class TriggerFile(_Strict):
    mission: str = Field(min_length=1, max_length=100)
    sender: str = Field(
        pattern=r"^[^\s,<&]{1,200}$",
        description="CAP sender: an identifier of the issuing system, no spaces or commas",
    )
    escalation: EscalationConfig
    sites: tuple[SiteConfig, ...] = ()
    triggers: tuple[Trigger, ...] = Field(min_length=1, max_length=1000)
    channels: tuple[ChannelConfig, ...] = Field(default=(), max_length=1000)
    auto_issue: bool = Field(
        default=True,
        description="issue candidates that need no person's confirmation at once (as "
        "system:alerts); false keeps every new alert a draft until a person issues it",
    )
    forecast_level: Literal["cm", "adm1", "adm2", "pgm"] | None = Field(
        default=None, description="level of the stored forecast runs to read (default: newest)"
    )
    public_url: str | None = Field(
        default=None,
        max_length=200,
        description="where staff open Tocsin (e.g. https://tocsin.mission.example): escalation "
        "notices then link to the alert's page, which asks them to sign in",
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return None if value is None else check_public_url(value)

    @model_validator(mode="after")
    def _unique_ids(self) -> TriggerFile:
        for label, ids in (
            ("trigger", [t.id for t in self.triggers]),
            ("site", [s.id for s in self.sites]),
            ("channel", [c.name for c in self.channels]),
        ):
            seen: set[str] = set()
            for item in ids:
                if item in seen:
                    raise ValueError(f"{label} id {item!r} is used twice")
                seen.add(item)
        return self

    def protected_sites(self) -> tuple[ProtectedSite, ...]:
        return tuple(site.to_site() for site in self.sites)

    def delivery_channels(self) -> tuple[Channel, ...]:
        return tuple(c.to_channel() for c in self.channels)

    def ladder(self) -> EscalationLadder:
        return self.escalation.to_ladder()


class TriggerConfigError(ValueError):
    """Raised with every problem found, each as 'file:line: yaml.path: message'."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid trigger file:\n  " + "\n  ".join(problems))


def load_triggers(path: str | Path) -> TriggerFile:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TriggerConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from exc
    if size > MAX_FILE_BYTES:
        raise TriggerConfigError(
            str(path), [f"file is {size} bytes; a trigger file may be at most {MAX_FILE_BYTES}"]
        )
    return parse_triggers(path.read_bytes(), source=str(path))


def parse_triggers(data: bytes | str, *, source: str = "<triggers>") -> TriggerFile:
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            raise TriggerConfigError(source, [f"more than {MAX_FILE_BYTES} bytes"])
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TriggerConfigError(source, [f"not UTF-8 text (byte {exc.start})"]) from exc
    try:
        _refuse_aliases(data)
        node = yaml.compose(data, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise TriggerConfigError(source, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(raw, dict):
        raise TriggerConfigError(
            source, ["the top level must be a mapping (mission:, triggers:, ...)"]
        )
    try:
        return TriggerFile.model_validate(raw)
    except ValidationError as exc:
        raise TriggerConfigError(
            source, [_describe(err, node, source) for err in exc.errors()]
        ) from exc


def _refuse_aliases(text: str) -> None:
    """Anchors/aliases make 'billion laughs' bombs possible and are never needed here."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            line = event.start_mark.line + 1
            raise yaml.YAMLError(f"line {line}: YAML anchors and aliases are not allowed here")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > 50:
                raise yaml.YAMLError("nesting deeper than 50 levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _describe(err: Any, root: yaml.Node | None, source: str) -> str:
    path, line = _locate(tuple(err["loc"]), root)
    where = f"{source}:{line}" if line else source
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {path or '(top level)'}: {message}"


def _locate(loc: tuple[Any, ...], node: yaml.Node | None) -> tuple[str, int | None]:
    """Turns pydantic's error location into 'triggers[2].level' and a 1-based line number."""
    parts: list[str] = []
    line = node.start_mark.line + 1 if node is not None else None
    for item in loc:
        if isinstance(node, yaml.SequenceNode) and isinstance(item, int):
            parts.append(f"[{item}]")
            node = node.value[item] if item < len(node.value) else None
        elif isinstance(node, yaml.MappingNode) and isinstance(item, str):
            keys = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            if item not in keys and keys.get("kind") is not None and keys["kind"].value == item:
                continue  # the discriminator tag pydantic inserts for tagged unions
            parts.append(f".{item}" if parts else item)
            node = keys.get(item)
        else:
            parts.append(f".{item}" if parts else str(item))
            node = None
        if node is not None:
            line = node.start_mark.line + 1
    return "".join(parts), line
