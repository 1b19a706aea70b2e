"""Who neighbours whom, for spatial-lag features.

- PRIO-GRID cells: queen contiguity (the 8 touching cells) and the second ring around them.
- Countries: land contiguity from the shipped Natural Earth outlines (``tocsin.geo.countries``):
  outlines that touch or lie within ``COUNTRY_GAP_DEG`` of each other (about 10 km, which absorbs
  the generalisation of 1:50m borders). Country units may be ISO3 codes, or any id when the panel
  has a Gleditsch-Ward column (``gleditsch_ward`` or ``gwcode``).
- Admin units: none (documented limitation; their panels carry no geometry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import shapely

from tocsin.forecast import countries
from tocsin.forecast.features import priogrid_neighbours
from tocsin.forecast.panel import Panel

COUNTRY_GAP_DEG = 0.1
GW_COLUMNS = ("gleditsch_ward", "gwcode")


def for_panel(
    panel: Panel,
) -> tuple[Mapping[object, Sequence[object]] | None, Mapping[object, Sequence[object]] | None]:
    """``(first ring, second ring)`` neighbour maps for the panel's units, or ``(None, None)``."""
    units = panel.units
    if panel.unit == "priogrid_gid":
        return priogrid_neighbours(units, 1), priogrid_neighbours(units, 2)
    iso3 = _iso3_of_units(panel)
    if iso3 is None:
        return None, None
    return country_contiguity(iso3), None


def _iso3_of_units(panel: Panel) -> dict[object, str] | None:
    if panel.unit == "country_iso3":
        return {u: str(u) for u in panel.units.tolist()}
    for column in GW_COLUMNS:
        if column in panel.frame.columns:
            pairs = (
                panel.frame[[panel.unit, column]].dropna().drop_duplicates(panel.unit, keep="last")
            )
            out = {}
            for unit, gw in zip(pairs[panel.unit], pairs[column], strict=True):
                iso = countries.GW_TO_ISO3.get(int(gw))
                if iso is not None:
                    out[unit] = iso
            return out
    return None


def country_contiguity(iso3_of_unit: Mapping[object, str]) -> dict[object, list[object]]:
    """Units whose countries' outlines touch (within ``COUNTRY_GAP_DEG``)."""
    from tocsin.geo.countries import country_outline

    units, shapes = [], []
    for unit, iso in iso3_of_unit.items():
        try:
            shapes.append(country_outline(iso))
        except (LookupError, ValueError):
            continue  # no outline shipped (a microstate): no neighbours
        units.append(unit)
    if not shapes:
        return {}
    geoms = np.asarray(shapes, dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=COUNTRY_GAP_DEG)
    out: dict[object, list[object]] = {u: [] for u in units}
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i != j and iso3_of_unit[units[i]] != iso3_of_unit[units[j]]:
            out[units[i]].append(units[j])
    return out
