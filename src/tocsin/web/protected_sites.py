"""The protected-sites layer of the map: IDP sites, schools, health facilities, bases and
supply routes from the mission's alert configuration (read only).

Sites come from the trigger file the alerts module reads (``TOCSIN_ALERTS_CONFIG``, default
``$TOCSIN_HOME/alerts/triggers.yaml``), parsed by ``tocsin.alerts.triggers.config``. Each site has
a tier; a viewer sees a site only if that tier is in their record scope. A site above the
viewer's tier is left out entirely (not even counted): where an IDP site is can be what an
attacker wants to know.

The file is parsed again when its modification time or size changes. A missing file means no
layer; an invalid one is logged and gives no layer, never a broken map.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tocsin import config
from tocsin.alerts.triggers.config import TriggerConfigError, load_triggers
from tocsin.alerts.triggers.proximity import ProtectedSite
from tocsin.domain.taxonomy import SensitivityTier
from tocsin.web.i18n import N_

log = logging.getLogger(__name__)

CONFIG_ENV = "TOCSIN_ALERTS_CONFIG"

SITE_KIND_LABELS = {
    "idp_site": N_("IDP site"),
    "school": N_("School"),
    "health_facility": N_("Health facility"),
    "base": N_("Base"),
    "route": N_("Supply route"),
    "other": N_("Other protected site"),
}
# One letter per kind drawn in the marker, so kinds differ by more than colour.
SITE_KIND_SYMBOLS = {
    "idp_site": "I",
    "school": "S",
    "health_facility": "H",
    "base": "B",
    "route": "R",
    "other": "P",
}


def default_config_path() -> Path:
    value = os.environ.get(CONFIG_ENV, "").strip()
    return Path(value).expanduser() if value else config.home() / "alerts" / "triggers.yaml"


@dataclass(frozen=True, slots=True)
class VisibleSite:
    id: str
    name: str
    kind: str
    tier: str
    coords: tuple[tuple[float, float], ...]  # (lat, lon)

    @property
    def is_route(self) -> bool:
        return len(self.coords) > 1


class SitesSource:
    """The sites of one trigger file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._sites: tuple[ProtectedSite, ...] = ()

    def sites(self) -> tuple[ProtectedSite, ...]:
        try:
            stat = self.path.stat()
        except OSError:
            return ()
        stamp = (stat.st_mtime, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._sites = load_triggers(self.path).protected_sites()
                except (TriggerConfigError, OSError, ValueError) as exc:
                    log.error("protected sites unavailable: %s", str(exc).splitlines()[0])
                    self._sites = ()
                self._stamp = stamp
            return self._sites


def visible_sites(
    sites: Iterable[ProtectedSite], tiers: Iterable[SensitivityTier]
) -> list[VisibleSite]:
    """The sites whose tier the viewer's scope includes; the others are left out."""
    allowed = set(tiers)
    return [
        VisibleSite(site.id, site.name, site.kind.value, site.tier.value, tuple(site.coords))
        for site in sites
        if site.tier in allowed
    ]


def to_geojson(sites: Iterable[VisibleSite]) -> str:
    features = []
    for site in sites:
        if site.is_route:
            geometry = {
                "type": "LineString",
                "coordinates": [[lon, lat] for lat, lon in site.coords],
            }
        else:
            lat, lon = site.coords[0]
            geometry = {"type": "Point", "coordinates": [lon, lat]}
        features.append(
            {
                "type": "Feature",
                "id": site.id,
                "geometry": geometry,
                "properties": {
                    "name": site.name,
                    "kind": site.kind,
                    "symbol": SITE_KIND_SYMBOLS.get(site.kind, "P"),
                    "tier": site.tier,
                },
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
