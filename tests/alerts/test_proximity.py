"""Proximity: geodesic distances to points and routes, and what the candidate says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pyproj import Geod

from tocsin.alerts.redaction import redact_for_tier
from tocsin.alerts.triggers.config import ProximityTrigger
from tocsin.alerts.triggers.proximity import (
    LocatedReport,
    ProtectedSite,
    SiteIndex,
    SiteKind,
    evaluate_proximity,
    segment_distance_km,
)
from tocsin.domain.taxonomy import SensitivityTier

WGS84 = Geod(ellps="WGS84")
AT = datetime(2024, 5, 3, 14, 0, tzinfo=UTC)

IDP = ProtectedSite("idp-1", "Elevage", SiteKind.IDP_SITE, ((5.76, 20.67),), area="Ouaka")
SCHOOL = ProtectedSite(
    "sch-1", "Ecole A", SiteKind.SCHOOL, ((5.742, 20.651),), SensitivityTier.INTERNAL
)
ROUTE = ProtectedSite(
    "msr",
    "MSR1",
    SiteKind.ROUTE,
    ((4.365, 18.555), (4.75, 18.60), (5.25, 18.90)),
    area="Ombella-M'Poko",
)


def rule(**kw) -> ProximityTrigger:
    base = {
        "id": "prox",
        "kind": "proximity",
        "name": "Near site",
        "radius_km": 10,
        "site_kinds": ["idp_site", "school", "route"],
    }
    return ProximityTrigger.model_validate(base | kw)


def report(lat: float, lon: float, **kw) -> LocatedReport:
    base = {
        "uid": "ev-1",
        "kind": "verified_incident",
        "lat": lat,
        "lon": lon,
        "occurred_at": AT,
        "summary": "killing, 3 dead",
    }
    return LocatedReport(**(base | kw))


def _brute_force_km(lat: float, lon: float, coords) -> float:
    """Densify the route along geodesics and take the nearest vertex (ellipsoidal reference)."""
    best = float("inf")
    for (la1, lo1), (la2, lo2) in zip(coords, coords[1:], strict=False):
        pts = WGS84.npts(lo1, la1, lo2, la2, 2000, initial_idx=0, terminus_idx=0)
        for plo, pla in pts:
            best = min(best, WGS84.inv(lon, lat, plo, pla)[2] / 1000)
    return best


@pytest.mark.parametrize(("lat", "lon"), [(4.6, 18.70), (4.3, 18.5), (5.3, 19.0), (4.9, 18.6)])
def test_segment_distance_matches_geodesic_reference(lat: float, lon: float) -> None:
    exact = min(
        segment_distance_km(lat, lon, ROUTE.coords[i], ROUTE.coords[i + 1]) for i in range(2)
    )
    # Spherical vs ellipsoidal: within 0.5 % (plus densification error).
    assert exact == pytest.approx(_brute_force_km(lat, lon, ROUTE.coords), rel=0.005, abs=0.05)


def test_long_segment_where_planar_geometry_would_be_wrong() -> None:
    # A 2,000 km east-west segment at 60 N bows poleward; the point sits under its middle.
    d = segment_distance_km(60.0, 0.0, (59.0, -20.0), (59.0, 20.0))
    ref = _brute_force_km(60.0, 0.0, ((59.0, -20.0), (59.0, 20.0)))
    assert d == pytest.approx(ref, rel=0.01)
    assert d < 80  # a lon/lat-planar distance would say 111 km
    assert segment_distance_km(1.0, 1.0, (0.0, 0.0), (0.0, 0.0)) == pytest.approx(157.25, rel=0.01)


def test_candidates_per_site_with_explanations() -> None:
    near_idp = report(5.74, 20.66)  # ~2.5 km from the IDP site, ~1.1 km from the school
    out = evaluate_proximity(rule(), [IDP, SCHOOL, ROUTE], [near_idp])
    assert sorted(c.area_key for c in out) == ["site:idp-1", "site:sch-1"]
    idp = next(c for c in out if c.area_key == "site:idp-1")
    assert idp.measures["distance_km"] == pytest.approx(2.48, abs=0.05)
    assert idp.period_end - idp.period_start == timedelta(days=7)
    assert (
        "is 2.5 km from IDP site 'Elevage'; the trigger radius is 10 km, so it is 7.5 km inside it"
        in idp.explanation_text
    )
    assert not idp.requires_confirmation
    # The restricted site name never reaches an internal channel; its area does.
    internal = redact_for_tier(idp, SensitivityTier.INTERNAL)
    assert "Elevage" not in " ".join(internal.passages) + internal.headline
    assert [a.description for a in internal.areas] == ["Ouaka"]
    assert internal.measures == {}


def test_route_threats_uncertainty_and_kinds() -> None:
    on_route = report(4.6, 18.585, kind="credible_threat", uid="thr-9")
    (c,) = evaluate_proximity(rule(radius_km=3), [ROUTE, IDP], [on_route])
    assert c.area_key == "site:msr" and c.requires_confirmation
    assert c.areas[0].circle == (4.6, 18.585, 3)
    assert evaluate_proximity(rule(include=["verified_incident"]), [ROUTE], [on_route]) == []
    vague = report(5.74, 20.66, uncertainty_km=25)
    assert evaluate_proximity(rule(max_location_uncertainty_km=5), [IDP], [vague]) == []
    (c,) = evaluate_proximity(rule(max_location_uncertainty_km=30), [IDP], [vague])
    assert "position known to within ~25 km" in c.explanation_text
    assert evaluate_proximity(rule(site_kinds=["base"]), [IDP, ROUTE], [on_route]) == []
    far = report(0.0, 0.0)
    assert evaluate_proximity(rule(), [IDP, SCHOOL, ROUTE], [far]) == []


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="out of range"):
        SiteIndex([IDP]).within(95, 0, 10)
    with pytest.raises(ValueError, match="out of range"):
        ProtectedSite("x", "X", SiteKind.SCHOOL, ((0.0, 200.0),))
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate_proximity(
            rule(), [IDP], [report(5.74, 20.66, occurred_at=AT.replace(tzinfo=None))]
        )
    with pytest.raises(ValueError, match="uncertainty_km"):
        evaluate_proximity(rule(), [IDP], [report(5.74, 20.66, uncertainty_km=-1)])
    assert SiteIndex([]).within(0, 0, 10) == []


def test_index_scales_to_many_sites() -> None:
    sites = [
        ProtectedSite(f"s{i}", f"S{i}", SiteKind.SCHOOL, ((i * 0.01, 18.0),)) for i in range(5000)
    ]
    index = SiteIndex(sites)
    hits = index.within(10.0, 18.0, 5.0)
    # Sites every ~1.11 km along a meridian: those within 5 km of s1000 are s996..s1004.
    assert {s.id for s, _ in hits} == {f"s{i}" for i in range(996, 1005)}
    assert hits[0][0].id == "s1000" and hits[0][1] == pytest.approx(0, abs=1e-6)
