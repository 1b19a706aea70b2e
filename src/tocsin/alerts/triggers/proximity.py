"""Proximity trigger: a verified incident or credible threat report within X km of a protected
site.

What counts as a credible threat report (state and Admiralty grade) is decided where reports are
read (``tocsin.alerts.inputs.credible_threat_reports``) from the trigger's ``threat_*`` keys. An
alert derived from a threat report, or from an incident of a restricted case class, is at least
as sensitive as its source (tier and case class): the mere existence of a restricted report near
a named site must not reach a lower-tier reader.

Sites are points (IDP site, school, health facility, base) or routes given as polylines. Every
site point and every route segment goes into a shapely STRtree over lon/lat boxes, so each
report only measures the few geometries near it. Distances are great-circle: haversine to a
point, and the spherical cross-track distance to a route segment (falling back to the nearer end
when the foot of the perpendicular lies outside the segment), which stays exact for long
segments where a planar projection would not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from shapely import STRtree, box
from shapely.geometry import LineString, Point

from tocsin.alerts.model import AlertArea, AlertCandidate, Passage, TriggerKind, highest_tier
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.geo.distance import EARTH_RADIUS_KM, haversine_km, radius_bbox

if TYPE_CHECKING:
    from tocsin.alerts.triggers.config import ProximityTrigger


class SiteKind(StrEnum):
    IDP_SITE = "idp_site"
    SCHOOL = "school"
    HEALTH_FACILITY = "health_facility"
    BASE = "base"
    ROUTE = "route"
    OTHER = "other"


_SITE_LABEL = {
    SiteKind.IDP_SITE: "IDP site",
    SiteKind.SCHOOL: "school",
    SiteKind.HEALTH_FACILITY: "health facility",
    SiteKind.BASE: "base",
    SiteKind.ROUTE: "route",
    SiteKind.OTHER: "protected site",
}


@dataclass(frozen=True)
class ProtectedSite:
    """``coords`` are (lat, lon): one pair for a point site, two or more for a route."""

    id: str
    name: str
    kind: SiteKind
    coords: tuple[tuple[float, float], ...]
    tier: SensitivityTier = SensitivityTier.RESTRICTED
    area: str | None = None  # coarse description safe below the site's tier

    def __post_init__(self) -> None:
        if not self.coords:
            raise ValueError(f"site {self.id!r} has no coordinates")
        for lat, lon in self.coords:
            if not (math.isfinite(lat) and math.isfinite(lon)):
                raise ValueError(f"site {self.id!r} has non-finite coordinates")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"site {self.id!r} has coordinates out of range: {lat}, {lon}")

    @property
    def is_route(self) -> bool:
        return len(self.coords) > 1


@dataclass(frozen=True)
class LocatedReport:
    """A verified incident or a credible threat report with a position.

    ``uncertainty_km`` is how far the true position may be from (lat, lon): 0 for a GPS fix,
    ~25 km for UCDP ``where_prec`` 2. Reports vaguer than the trigger allows are skipped, since
    an admin-1 centroid says nothing about the distance to a school.
    """

    uid: str
    kind: Literal["verified_incident", "credible_threat"]
    lat: float
    lon: float
    occurred_at: datetime
    summary: str
    tier: SensitivityTier = SensitivityTier.INTERNAL
    uncertainty_km: float = 0.0
    case_class: CaseClass = CaseClass.GENERAL
    # Other names of the same thing: the incident a report was linked to, or the reports linked
    # to an incident. They go into the alert's evidence, so the incident and the report it was
    # made from are recognised as one detection at the same site (no second alert).
    aliases: tuple[str, ...] = ()

    @property
    def raises_alert_tier(self) -> bool:
        """A threat report, or an incident of a restricted case class, sets the alert's floor."""
        return self.kind == "credible_threat" or self.case_class is not CaseClass.GENERAL


def evaluate_proximity(
    rule: ProximityTrigger,
    sites: Sequence[ProtectedSite],
    reports: Iterable[LocatedReport],
) -> list[AlertCandidate]:
    """One candidate per (report, site) pair within ``rule.radius_km``."""
    index = SiteIndex([s for s in sites if s.kind in rule.site_kinds])
    candidates: list[AlertCandidate] = []
    for report in reports:
        if report.kind not in rule.include or report.case_class not in rule.case_classes:
            continue
        if not (math.isfinite(report.uncertainty_km) and report.uncertainty_km >= 0):
            raise ValueError(f"report {report.uid!r}: uncertainty_km must be >= 0")
        if report.uncertainty_km > rule.max_location_uncertainty_km:
            continue
        if report.occurred_at.tzinfo is None:
            raise ValueError(f"report {report.uid!r}: occurred_at must be timezone-aware")
        for site, distance in index.within(report.lat, report.lon, rule.radius_km):
            candidates.append(_candidate(rule, site, report, distance))
    return candidates


class SiteIndex:
    """Sites near a point, by great-circle distance, through an STRtree prefilter."""

    def __init__(self, sites: Sequence[ProtectedSite]) -> None:
        self._sites = list(sites)
        geoms = []
        self._owners: list[tuple[int, int]] = []  # (site index, segment index or -1)
        for i, site in enumerate(self._sites):
            if site.is_route:
                for j in range(len(site.coords) - 1):
                    (la1, lo1), (la2, lo2) = site.coords[j], site.coords[j + 1]
                    geoms.append(LineString([(lo1, la1), (lo2, la2)]))
                    self._owners.append((i, j))
            else:
                lat, lon = site.coords[0]
                geoms.append(Point(lon, lat))
                self._owners.append((i, -1))
        self._tree = STRtree(geoms) if geoms else None

    def within(self, lat: float, lon: float, radius_km: float) -> list[tuple[ProtectedSite, float]]:
        if not (
            math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
        ):
            raise ValueError(f"coordinates out of range: lat={lat}, lon={lon}")
        if self._tree is None:
            return []
        # A great-circle arc can bow slightly outside its lon/lat box: widen the query box.
        query = box(*radius_bbox(lat, lon, radius_km * 1.1 + 1.0))
        best: dict[int, float] = {}
        for k in self._tree.query(query):
            site_i, seg = self._owners[int(k)]
            site = self._sites[site_i]
            if seg < 0:
                d = haversine_km(lat, lon, *site.coords[0])
            else:
                d = segment_distance_km(lat, lon, site.coords[seg], site.coords[seg + 1])
            if d <= radius_km and d < best.get(site_i, math.inf):
                best[site_i] = d
        return sorted(((self._sites[i], d) for i, d in best.items()), key=lambda x: x[1])


def _unit(lat: float, lon: float) -> tuple[float, float, float]:
    la, lo = math.radians(lat), math.radians(lon)
    return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))


def _cross(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def segment_distance_km(
    lat: float, lon: float, start: tuple[float, float], end: tuple[float, float]
) -> float:
    """Great-circle distance from a point to the minor arc between ``start`` and ``end``."""
    p, a, b = _unit(lat, lon), _unit(*start), _unit(*end)
    n = _cross(a, b)
    norm = math.sqrt(_dot(n, n))
    ends = min(haversine_km(lat, lon, *start), haversine_km(lat, lon, *end))
    if norm < 1e-12:  # degenerate segment (both ends equal, or antipodal)
        return ends
    n = (n[0] / norm, n[1] / norm, n[2] / norm)
    s = _dot(p, n)
    foot = (p[0] - s * n[0], p[1] - s * n[1], p[2] - s * n[2])
    # The foot lies on the minor arc when it is "after" a and "before" b around n.
    if _dot(_cross(a, foot), n) >= 0 and _dot(_cross(foot, b), n) >= 0:
        return min(ends, EARTH_RADIUS_KM * abs(math.asin(max(-1.0, min(1.0, s)))))
    return ends


def _candidate(
    rule: ProximityTrigger, site: ProtectedSite, report: LocatedReport, distance: float
) -> AlertCandidate:
    label = _SITE_LABEL[site.kind]
    what = "Verified incident" if report.kind == "verified_incident" else "Credible threat report"
    where = site.area or "the mission area"
    precision = (
        f" (position known to within ~{report.uncertainty_km:g} km)"
        if report.uncertainty_km
        else ""
    )
    # Never lower than the source: a threat report (or a restricted-class incident) lifts the
    # whole alert, headline included, to its own tier.
    alert_tier = highest_tier((rule.tier, report.tier)) if report.raises_alert_tier else rule.tier
    detail_tier = highest_tier((alert_tier, site.tier, report.tier))
    explanation = (
        Passage(
            f"{what} reported within {rule.radius_km:g} km of a protected {label} in {where}.",
            alert_tier,
        ),
        Passage(
            f"{what} {report.uid} ({report.summary}) on {report.occurred_at:%Y-%m-%d} is "
            f"{distance:.1f} km from {label} '{site.name}'{precision}; the trigger radius is "
            f"{rule.radius_km:g} km, so it is {rule.radius_km - distance:.1f} km inside it.",
            detail_tier,
        ),
    )
    areas: list[AlertArea] = []
    generalised = AlertArea(site.area, alert_tier) if site.area else None
    if site.is_route:
        # CAP has no line type: describe the route, and ring the incident with the radius.
        areas.append(
            AlertArea(
                f"Within {rule.radius_km:g} km of route {site.name}",
                detail_tier,
                circle=(report.lat, report.lon, rule.radius_km),
                generalised=generalised,
            )
        )
    else:
        lat, lon = site.coords[0]
        areas.append(
            AlertArea(
                f"{rule.radius_km:g} km around {label} {site.name}",
                detail_tier,
                circle=(lat, lon, rule.radius_km),
                generalised=generalised,
            )
        )
    return AlertCandidate(
        trigger_id=rule.id,
        kind=TriggerKind.PROXIMITY,
        area_key=f"site:{site.id}",
        period_start=report.occurred_at,
        period_end=report.occurred_at + rule.validity,
        headline=f"{rule.name}: {what.lower()} near a protected {label} in {where}",
        explanation=explanation,
        severity=rule.severity,
        urgency=rule.urgency,
        certainty=rule.certainty,
        tier=alert_tier,
        areas=tuple(areas),
        threat_category=rule.threat_category,
        instruction=rule.instruction,
        measures={
            "distance_km": round(distance, 3),
            "radius_km": rule.radius_km,
            "uncertainty_km": report.uncertainty_km,
        },
        evidence=(report.uid, *report.aliases),
        requires_confirmation=report.kind == "credible_threat",
        case_class=report.case_class,
    )
