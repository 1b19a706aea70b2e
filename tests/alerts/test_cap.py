"""CAP 1.2 messages validate against the official OASIS schema; lower tiers never see more."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

import defusedxml.ElementTree as SafeET
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.alerts.helpers import LADDER, SECRET, T0, candidate
from tocsin.alerts.cap import (
    CAP_NS,
    SCHEMA_PATH,
    CapValidationError,
    build_atom_feed,
    build_cap,
    validate_cap,
)
from tocsin.alerts.lifecycle import admit, issue
from tocsin.alerts.model import Passage
from tocsin.alerts.redaction import TierError, redact_for_tier
from tocsin.domain.taxonomy import SensitivityTier as Tier

NS = {"c": CAP_NS}
ATOM = {"a": "http://www.w3.org/2005/Atom", "c": CAP_NS}


def issued(c=None):  # noqa: ANN001, ANN201
    alert, _ = admit(c or candidate(), [], mission="MINUSCA", at=T0, alert_id="a-1")
    alert, _ = issue(alert, actor="user:duty", at=T0, ladder=LADDER)
    return alert


def test_vendored_schema_is_the_oasis_file() -> None:
    digest = hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest()
    assert digest == "b7798ef25868b068c97b268bda02d067c7d4ba9373adc5638bf37105804ee723"
    assert b"Copyright OASIS Open 2010" in SCHEMA_PATH.read_bytes()
    assert (SCHEMA_PATH.parent / "NOTICE.md").is_file()


@pytest.mark.parametrize("tier", [Tier.INTERNAL, Tier.RESTRICTED, Tier.CONFIDENTIAL])
def test_messages_validate_at_every_tier(tier: Tier) -> None:
    msg = build_cap(issued(), sender="tocsin.minusca", channel_tier=tier, sent=T0)
    validate_cap(msg.xml)  # build_cap validates too; this checks the bytes it returns
    root = SafeET.fromstring(msg.xml)
    assert root.findtext("c:sent", namespaces=NS) == "2024-05-01T08:00:00+00:00"
    assert root.findtext("c:scope", namespaces=NS) == "Restricted"
    assert tier.value in root.findtext("c:restriction", namespaces=NS)
    info = root.find("c:info", NS)
    assert info.findtext("c:urgency", namespaces=NS) == "Immediate"
    assert info.findtext("c:severity", namespaces=NS) == "Extreme"
    assert info.findtext("c:certainty", namespaces=NS) == "Observed"
    assert info.findtext("c:instruction", namespaces=NS) == "Contact the site focal point."
    assert info.find("c:eventCode/c:value", NS).text == "attack_on_civilians"
    polygons = [p.text for p in info.iterfind("c:area/c:polygon", NS)]
    assert polygons == [
        "5.70000,20.60000 5.70000,20.75000 5.82000,20.75000 5.82000,20.60000 5.70000,20.60000"
    ]


def test_tier_rule_on_cap_output() -> None:
    alert = issued()
    internal = build_cap(alert, sender="s", channel_tier=Tier.INTERNAL, sent=T0).xml.decode()
    restricted = build_cap(alert, sender="s", channel_tier=Tier.RESTRICTED, sent=T0).xml.decode()
    assert SECRET not in internal and "3.2 km" not in internal
    assert "<geocode><valueName>PCODE</valueName><value>CF52</value></geocode>" in internal
    assert "<circle>" not in internal and "tocsin:distance_km" not in internal
    assert SECRET in restricted and "<circle>5.76000,20.67000 10</circle>" in restricted
    assert "<valueName>tocsin:distance_km</valueName><value>3.2</value>" in restricted
    with pytest.raises(TierError, match="public channel may not receive a internal alert"):
        build_cap(alert, sender="s", channel_tier=Tier.PUBLIC, sent=T0)


@settings(max_examples=40, deadline=None)
@given(
    secret=st.text(min_size=4, max_size=40).filter(
        lambda s: s.strip() and "&" not in s and "<" not in s
    ),
    public_text=st.text(max_size=200),
)
def test_restricted_passages_never_reach_internal_channels(secret: str, public_text: str) -> None:
    c = candidate()
    c = replace(
        c,
        explanation=(
            Passage(public_text or "x", Tier.INTERNAL),
            Passage(f"[{secret}]", Tier.RESTRICTED),
        ),
    )
    view = redact_for_tier(c, Tier.INTERNAL)
    assert all(f"[{secret}]" not in p for p in view.passages)
    msg = build_cap(issued(c), sender="s", channel_tier=Tier.INTERNAL, sent=T0)
    assert f"[{secret}]".encode() not in msg.xml or f"[{secret}]" in (public_text or "x")


def test_public_scope_private_addresses_and_references() -> None:
    public = candidate(tier=Tier.PUBLIC)
    alert = issued(public)
    msg = build_cap(alert, sender="s", channel_tier=Tier.PUBLIC, sent=T0)
    assert SafeET.fromstring(msg.xml).findtext("c:scope", namespaces=NS) == "Public"
    private = build_cap(
        alert,
        sender="s",
        channel_tier=Tier.RESTRICTED,
        sent=T0,
        addresses=["poc.unit", "duty officer"],
    )
    root = SafeET.fromstring(private.xml)
    assert root.findtext("c:scope", namespaces=NS) == "Private"
    assert root.findtext("c:addresses", namespaces=NS) == 'poc.unit "duty officer"'
    update = build_cap(
        alert,
        sender="s",
        channel_tier=Tier.PUBLIC,
        sent=T0 + timedelta(hours=1),
        msg_type="Update",
        references=[msg],
    )
    ref = SafeET.fromstring(update.xml).findtext("c:references", namespaces=NS)
    assert ref == f"s,{msg.identifier},2024-05-01T08:00:00+00:00"
    assert update.identifier != msg.identifier


def test_control_characters_and_markup_in_text_are_made_safe() -> None:
    c = replace(
        candidate(),
        headline="Attack <script>&\x00\x0b near site",
        explanation=(Passage("a\x1fb", Tier.INTERNAL),),
    )
    msg = build_cap(issued(c), sender="s", channel_tier=Tier.INTERNAL, sent=T0)
    root = SafeET.fromstring(msg.xml)
    assert (
        root.find("c:info", NS).findtext("c:headline", namespaces=NS)
        == "Attack <script>& near site"
    )
    assert root.find("c:info", NS).findtext("c:description", namespaces=NS) == "ab"


def test_validation_rejects_broken_and_hostile_messages() -> None:
    good = build_cap(issued(), sender="s", channel_tier=Tier.INTERNAL, sent=T0).xml.decode()
    with pytest.raises(CapValidationError, match="msgType|Warning"):
        validate_cap(good.replace("<msgType>Alert</msgType>", "<msgType>Warning</msgType>"))
    with pytest.raises(CapValidationError, match="sent"):
        validate_cap(good.replace("2024-05-01T08:00:00+00:00", "2024-05-01T08:00:00Z", 1))
    with pytest.raises(CapValidationError, match="restriction"):
        validate_cap(
            good.replace(good[good.index("<restriction>") : good.index("</restriction>") + 14], "")
        )
    bad_poly = good.replace("20.60000 5.70000,20.60000</polygon>", "20.60000</polygon>")
    with pytest.raises(CapValidationError, match="polygon"):
        validate_cap(bad_poly)
    with pytest.raises(CapValidationError, match="well-formed"):
        validate_cap(b"<alert")
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]>'
        b"<a>&y;</a>"
    )
    with pytest.raises(CapValidationError, match="unsafe"):
        validate_cap(bomb)
    with pytest.raises(ValueError, match="sender"):
        build_cap(issued(), sender="has space", channel_tier=Tier.INTERNAL, sent=T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_cap(issued(), sender="s", channel_tier=Tier.INTERNAL, sent=T0.replace(tzinfo=None))


def test_atom_feed_embeds_valid_cap_and_refuses_other_tiers() -> None:
    alert = issued()
    msgs = [
        build_cap(alert, sender="s", channel_tier=Tier.INTERNAL, sent=T0 + timedelta(hours=h))
        for h in (0, 2)
    ]
    feed = build_atom_feed(
        msgs,
        feed_id="urn:tocsin:feed:internal",
        title="MINUSCA alerts (internal)",
        tier=Tier.INTERNAL,
        updated=T0 + timedelta(hours=2),
        self_url="https://tocsin.example/feeds/internal.atom",
        message_url="https://tocsin.example/cap/{identifier}.xml",
    )
    root = SafeET.fromstring(feed)
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert root.findtext("a:id", namespaces=ATOM) == "urn:tocsin:feed:internal"
    entries = root.findall("a:entry", ATOM)
    assert [e.findtext("a:updated", namespaces=ATOM) for e in entries] == [
        "2024-05-01T10:00:00+00:00",
        "2024-05-01T08:00:00+00:00",
    ]
    for entry, msg in zip(entries, reversed(msgs), strict=True):
        assert entry.findtext("a:id", namespaces=ATOM) == f"urn:tocsin:cap:{msg.identifier}"
        link = entry.find("a:link", ATOM)
        assert link.get("type") == "application/cap+xml" and msg.identifier in link.get("href")
        embedded = entry.find("a:content/c:alert", ATOM)
        validate_cap(SafeET.tostring(embedded))
    restricted = build_cap(alert, sender="s", channel_tier=Tier.RESTRICTED, sent=T0)
    with pytest.raises(TierError, match="not for this internal feed"):
        build_atom_feed([restricted], feed_id="f", title="t", tier=Tier.INTERNAL, updated=T0)
