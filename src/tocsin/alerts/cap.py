"""CAP 1.2 (OASIS Common Alerting Protocol) messages and a CAP/Atom feed.

Messages are rendered from a ``RedactedView`` (see ``tocsin.alerts.redaction``), so a CAP
message for a lower-tier channel never contains restricted details. Every message is validated
against the official OASIS CAP 1.2 schema (vendored in ``schemas/``, see its NOTICE) plus the
rules of the specification that the schema cannot express (polygon/circle syntax, scope and
restriction/addresses, characters forbidden in identifiers).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - used to *build* XML; parsing goes through defusedxml
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import defusedxml.ElementTree as SafeET
import xmlschema

from tocsin.alerts.lifecycle import Alert
from tocsin.alerts.model import AlertArea, TriggerKind
from tocsin.alerts.redaction import RedactedView, TierError, redact_for_tier
from tocsin.domain.taxonomy import SensitivityTier

__all__ = [
    "CAP_NS",
    "CapMessage",
    "CapValidationError",
    "TierError",
    "build_atom_feed",
    "build_cap",
    "redact_for_tier",
    "validate_cap",
]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
SCHEMA_PATH = Path(__file__).parent / "schemas" / "CAP-v1.2.xsd"
CAP_MIME = "application/cap+xml"
ET.register_namespace("cap", CAP_NS)  # prefixes used inside the Atom feed
ET.register_namespace("atom", ATOM_NS)

_EVENT = {
    TriggerKind.FORECAST_RISK: "Forecast risk of violence against civilians",
    TriggerKind.SURGE: "Surge in violence",
    TriggerKind.PROXIMITY: "Violence or threat near a protected site",
    TriggerKind.KEYWORDS: "Threat report",
}
# Characters XML 1.0 cannot carry at all; a report may contain them, a message must not.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_FORBIDDEN_ID = re.compile(r"[\s,<&]")
_POINT = r"-?\d+(?:\.\d+)?,-?\d+(?:\.\d+)?"
_POLYGON = re.compile(rf"^{_POINT}(?: {_POINT}){{3,}}$")
_CIRCLE = re.compile(rf"^{_POINT} \d+(?:\.\d+)?$")


class CapValidationError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid CAP 1.2 message: " + "; ".join(problems))


@dataclass(frozen=True)
class CapMessage:
    identifier: str
    sender: str
    sent: datetime
    tier: SensitivityTier
    headline: str
    xml: bytes


def cap_datetime(dt: datetime) -> str:
    """CAP's dateTime: no fractional seconds, an explicit offset, never 'Z'."""
    if dt.tzinfo is None:
        raise ValueError("CAP times must be timezone-aware")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _text(value: str) -> str:
    return _XML_INVALID.sub("", value)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{CAP_NS}}}{tag}")
    if text is not None:
        el.text = _text(text)
    return el


def build_cap(
    alert: Alert,
    *,
    sender: str,
    channel_tier: SensitivityTier,
    sent: datetime,
    status: str = "Actual",
    msg_type: str = "Alert",
    references: Sequence[CapMessage] = (),
    addresses: Sequence[str] = (),
    language: str = "en",
    web: str | None = None,
) -> CapMessage:
    """The CAP message for ``alert`` as a channel of ``channel_tier`` may see it."""
    if _FORBIDDEN_ID.search(sender) or not sender:
        raise ValueError(f"CAP sender {sender!r} must be non-empty, without spaces or commas")
    view = redact_for_tier(alert.candidate, channel_tier)
    identifier = f"tocsin-{alert.id}-{channel_tier.value}-{msg_type.lower()}-{sent:%Y%m%dT%H%M%S}"
    root = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(root, "identifier", identifier)
    _sub(root, "sender", sender)
    _sub(root, "sent", cap_datetime(sent))
    _sub(root, "status", status)
    _sub(root, "msgType", msg_type)
    if addresses:
        _sub(root, "scope", "Private")
        _sub(root, "addresses", " ".join(_quote_address(a) for a in addresses))
    elif channel_tier is SensitivityTier.PUBLIC:
        _sub(root, "scope", "Public")
    else:
        _sub(root, "scope", "Restricted")
        _sub(
            root,
            "restriction",
            f"Need-to-know: Tocsin tier '{channel_tier.value}' or higher. "
            "Do not forward to recipients of a lower tier.",
        )
    _sub(root, "code", f"tocsin-tier:{channel_tier.value}")
    if references:
        _sub(
            root,
            "references",
            " ".join(f"{r.sender},{r.identifier},{cap_datetime(r.sent)}" for r in references),
        )
    _info(root, alert, view, language, web)
    xml = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
    validate_cap(xml)
    return CapMessage(identifier, sender, sent, channel_tier, view.headline, xml)


def _quote_address(address: str) -> str:
    if '"' in address or not address.strip():
        raise ValueError(f"CAP address {address!r} is empty or contains a double quote")
    return f'"{address}"' if " " in address else address


def _info(
    root: ET.Element, alert: Alert, view: RedactedView, language: str, web: str | None
) -> None:
    c = alert.candidate
    info = _sub(root, "info")
    _sub(info, "language", language)
    _sub(info, "category", "Security")
    _sub(info, "event", _EVENT[c.kind])
    _sub(info, "responseType", "Monitor" if c.requires_confirmation else "Prepare")
    _sub(info, "urgency", c.urgency.value)
    _sub(info, "severity", c.severity.value)
    _sub(info, "certainty", c.certainty.value)
    if c.threat_category is not None:
        code = _sub(info, "eventCode")
        _sub(code, "valueName", "tocsin:poc_threat_category")
        _sub(code, "value", c.threat_category.value)
    _sub(info, "onset", cap_datetime(c.period_start))
    _sub(info, "expires", cap_datetime(c.period_end))
    _sub(info, "senderName", alert.mission)
    _sub(info, "headline", view.headline)
    if view.passages:
        _sub(info, "description", view.description)
    if view.instruction:
        _sub(info, "instruction", view.instruction)
    if web:
        _sub(info, "web", web)
    for name, value in sorted(view.measures.items()):
        param = _sub(info, "parameter")
        _sub(param, "valueName", f"tocsin:{name}")
        _sub(param, "value", f"{value:g}")
    for area in view.areas:
        _area(info, area)


def _area(info: ET.Element, area: AlertArea) -> None:
    el = _sub(info, "area")
    _sub(el, "areaDesc", area.description)
    if area.polygon:
        _sub(el, "polygon", " ".join(f"{lat:.5f},{lon:.5f}" for lat, lon in area.polygon))
    if area.circle:
        lat, lon, radius = area.circle
        _sub(el, "circle", f"{lat:.5f},{lon:.5f} {radius:g}")
    for name, value in area.geocodes:
        code = _sub(el, "geocode")
        _sub(code, "valueName", name)
        _sub(code, "value", value)


@lru_cache(maxsize=1)
def cap_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def validate_cap(xml: bytes | str) -> None:
    """Raise ``CapValidationError`` unless ``xml`` is a valid CAP 1.2 alert."""
    try:
        root = SafeET.fromstring(xml)
    except Exception as exc:  # defusedxml raises several types: all mean "refused"
        raise CapValidationError([f"not well-formed or unsafe XML: {exc}"]) from exc
    problems = [
        str(e.reason or e.message) + f" (at {e.path})" for e in cap_schema().iter_errors(root)
    ]
    if problems:
        raise CapValidationError(problems)
    problems.extend(_spec_rules(root))
    if problems:
        raise CapValidationError(problems)


def _spec_rules(root: ET.Element) -> list[str]:
    ns = {"c": CAP_NS}
    problems = []
    for tag in ("identifier", "sender"):
        value = root.findtext(f"c:{tag}", namespaces=ns) or ""
        if _FORBIDDEN_ID.search(value):
            problems.append(f"{tag} contains a space, comma, '<' or '&'")
    scope = root.findtext("c:scope", namespaces=ns)
    if scope == "Restricted" and not root.findtext("c:restriction", namespaces=ns):
        problems.append("scope Restricted requires a <restriction>")
    if scope == "Private" and not root.findtext("c:addresses", namespaces=ns):
        problems.append("scope Private requires <addresses>")
    for poly in root.iterfind(".//c:area/c:polygon", ns):
        text = poly.text or ""
        points = text.split()
        if not _POLYGON.match(text) or points[0] != points[-1]:
            problems.append(f"polygon {text[:60]!r} needs >= 4 'lat,lon' pairs, first = last")
    for circle in root.iterfind(".//c:area/c:circle", ns):
        if not _CIRCLE.match(circle.text or ""):
            problems.append(f"circle {circle.text!r} must be 'lat,lon radius'")
    return problems


def build_atom_feed(
    messages: Sequence[CapMessage],
    *,
    feed_id: str,
    title: str,
    tier: SensitivityTier,
    updated: datetime,
    self_url: str | None = None,
    message_url: str | None = None,
) -> bytes:
    """A CAP/Atom feed (OASIS 'Example Practices: CAP Feeds'): one entry per message, with the
    CAP alert inline in ``<content type="application/cap+xml">``.

    A feed has a single tier; a message rendered for any other tier is refused, so a public feed
    cannot carry an internal message by mistake. ``message_url`` may contain ``{identifier}``.
    """
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    ET.SubElement(feed, f"{{{ATOM_NS}}}id").text = _text(feed_id)
    ET.SubElement(feed, f"{{{ATOM_NS}}}title").text = _text(title)
    ET.SubElement(feed, f"{{{ATOM_NS}}}updated").text = updated.astimezone(UTC).isoformat()
    author = ET.SubElement(feed, f"{{{ATOM_NS}}}author")
    ET.SubElement(author, f"{{{ATOM_NS}}}name").text = "Tocsin"
    if self_url:
        ET.SubElement(feed, f"{{{ATOM_NS}}}link", rel="self", href=self_url)
    for msg in sorted(messages, key=lambda m: m.sent, reverse=True):
        if msg.tier is not tier:
            raise TierError(
                f"message {msg.identifier} was rendered for tier {msg.tier.value}, "
                f"not for this {tier.value} feed"
            )
        entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
        ET.SubElement(entry, f"{{{ATOM_NS}}}id").text = f"urn:tocsin:cap:{msg.identifier}"
        ET.SubElement(entry, f"{{{ATOM_NS}}}title").text = _text(msg.headline)
        ET.SubElement(entry, f"{{{ATOM_NS}}}updated").text = msg.sent.astimezone(UTC).isoformat()
        if message_url:
            ET.SubElement(
                entry,
                f"{{{ATOM_NS}}}link",
                rel="alternate",
                type=CAP_MIME,
                href=message_url.format(identifier=msg.identifier),
            )
        content = ET.SubElement(entry, f"{{{ATOM_NS}}}content", type=CAP_MIME)
        content.append(SafeET.fromstring(msg.xml))
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
