"""From events to zero-filled unit-month panels at the country, admin or PRIO-GRID level.

Output columns: ``month_id``, the unit id(s), ``ged_sb``, ``ged_ns``, ``ged_os`` (best-estimate
fatalities) and ``events_sb``, ``events_ns``, ``events_os`` (event counts). Every unit of the
level appears in every month of the range, with zeros where nothing happened.

- ``cm``: unit ``country_iso3``, plus ``gwcode`` and, with a VIEWS country key, ``country_id``;
  units are the countries with events (or the ones asked for).
- ``adm1`` / ``adm2``: unit ``admin1_pcode`` / ``admin2_pcode``, assigned by point-in-polygon on
  the boundaries the user gives; every polygon is a unit.
- ``pgm``: unit ``priogrid_gid``; every land cell of the chosen countries (cells whose area
  intersects the country outline), zero-filled.

Events that cannot be placed (no coordinates for an admin level, outside the chosen cells or
polygons, no country) are not silently lost: :class:`BuildReport` counts them by reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from tocsin.forecast import countries
from tocsin.forecast.panel import MONTH, Panel, PanelError, make_panel
from tocsin.geo import prio_grid

LEVELS = ("cm", "adm1", "adm2", "pgm")
LEVEL_UNIT = {
    "cm": "country_iso3",
    "adm1": "admin1_pcode",
    "adm2": "admin2_pcode",
    "pgm": "priogrid_gid",
}
VIOLENCE = ("sb", "ns", "os")


@dataclass
class BuildReport:
    n_events: int = 0
    n_placed: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, n: int) -> None:
        if n:
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)


def build_panel(
    events: pd.DataFrame,
    level: str,
    *,
    boundaries: Path | None = None,
    country_codes: Sequence[str] | None = None,
    first_month: int | None = None,
    last_month: int | None = None,
    country_key: Path | None = None,
    outline: Callable[[str], object] | None = None,
) -> tuple[Panel, BuildReport]:
    """Aggregate normalised ``events`` (see :mod:`tocsin.forecast.events`) to a panel."""
    if level not in LEVELS:
        raise PanelError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    report = BuildReport(n_events=len(events))
    events = events.copy()
    if first_month is None or last_month is None:
        if events.empty:
            raise PanelError("no events and no month range: cannot tell which months to cover")
        first_month = int(events[MONTH].min()) if first_month is None else first_month
        last_month = int(events[MONTH].max()) if last_month is None else last_month
    if first_month > last_month:
        raise PanelError(f"first month {first_month} is after last month {last_month}")
    outside = ~events[MONTH].between(first_month, last_month)
    report.drop("outside the month range", int(outside.sum()))
    events = events[~outside]

    unit = LEVEL_UNIT[level]
    if level == "cm":
        units, events = _country_units(events, country_codes, report)
    elif level in ("adm1", "adm2"):
        if boundaries is None:
            raise PanelError(f"level {level} needs --boundaries (a file of admin polygons)")
        units, events = _admin_units(events, level, boundaries, report)
    else:
        units, events = _grid_units(events, country_codes, boundaries, outline, report)
    report.n_placed = len(events)
    frame = _aggregate(events, unit, units, first_month, last_month)
    if level == "cm":
        frame.insert(2, "gwcode", frame[unit].map(countries.ISO3_TO_GW).astype("Int64"))
        if country_key is not None:
            key = countries.read_views_country_key(country_key)
            frame.insert(
                3,
                "country_id",
                frame["gwcode"].map(key.set_index("gwcode")["country_id"]).astype("Int64"),
            )
    return make_panel(frame, unit), report


def _aggregate(
    events: pd.DataFrame, unit: str, units: Iterable, first: int, last: int
) -> pd.DataFrame:
    units = pd.Index(pd.unique(np.asarray(list(units), dtype=object)), name=unit)
    months = np.arange(first, last + 1)
    grid = pd.MultiIndex.from_product([units, months], names=[unit, MONTH])
    grouped = events.groupby([unit, MONTH, "violence"])["fatalities"].agg(["sum", "size"])
    wide = grouped.unstack("violence", fill_value=0)
    out = pd.DataFrame(index=grid)
    for kind in VIOLENCE:
        for stat, prefix in (("sum", "ged"), ("size", "events")):
            column = (stat, kind)
            values = wide[column].reindex(grid) if column in wide.columns else None
            out[f"{prefix}_{kind}"] = (
                0 if values is None else values.fillna(0).astype("int64").to_numpy()
            )
    out = out[[f"{p}_{k}" for k in VIOLENCE for p in ("ged", "events")]].reset_index()
    if unit == "priogrid_gid":
        out[unit] = out[unit].astype("int64")
    return out[[MONTH, unit, *[c for c in out.columns if c not in (MONTH, unit)]]]


def _country_units(
    events: pd.DataFrame, wanted: Sequence[str] | None, report: BuildReport
) -> tuple[list[str], pd.DataFrame]:
    iso = events["country_iso3"]
    if iso.isna().any():
        iso = iso.fillna(events["gwcode"].map(countries.GW_TO_ISO3))
    events = events.assign(country_iso3=iso)
    report.drop("no country", int(iso.isna().sum()))
    events = events[iso.notna()]
    if wanted:
        bad = [c for c in wanted if not countries.is_known_iso3(c)]
        if bad:
            raise PanelError(f"unknown ISO3 country code(s): {bad}")
        outside = ~events["country_iso3"].isin(wanted)
        report.drop("country not chosen", int(outside.sum()))
        return list(wanted), events[~outside]
    return sorted(events["country_iso3"].unique()), events


def _admin_units(
    events: pd.DataFrame, level: str, boundaries: Path, report: BuildReport
) -> tuple[list[str], pd.DataFrame]:
    import geopandas as gpd

    column = f"{'admin1' if level == 'adm1' else 'admin2'}_pcode"
    polygons = _read_boundaries(boundaries)
    pcode = _pcode_column(polygons, level, boundaries)
    polygons = polygons[[pcode, "geometry"]].rename(columns={pcode: column})
    if polygons[column].isna().any() or polygons[column].duplicated().any():
        raise PanelError(f"{boundaries.name}: P-codes in {pcode!r} must be present and unique")
    located = events["latitude"].notna() & events["longitude"].notna()
    points = gpd.GeoDataFrame(
        events[located].drop(columns=[column]),
        geometry=gpd.points_from_xy(
            events.loc[located, "longitude"], events.loc[located, "latitude"]
        ),
        crs="EPSG:4326",
    )
    joined = gpd.sjoin(points, polygons.to_crs("EPSG:4326"), how="left", predicate="intersects")
    # A point on a shared border falls in two polygons: keep one, so no death counts twice.
    joined = joined[~joined.index.duplicated(keep="first")]
    placed = pd.DataFrame(joined.drop(columns=["geometry", "index_right"]))
    # Events without coordinates keep the P-code they came with, if it is one of the polygons.
    unlocated = events[~located]
    known = unlocated[column].isin(polygons[column])
    report.drop("no coordinates and no known P-code", int((~known).sum()))
    report.drop("outside the boundaries", int(placed[column].isna().sum()))
    placed = pd.concat([placed[placed[column].notna()], unlocated[known]], ignore_index=True)
    return polygons[column].tolist(), placed


def _read_boundaries(path: Path, prefer_layer: str | None = None):  # noqa: ANN202
    import geopandas as gpd
    import pyogrio

    if not path.is_file():
        raise PanelError(f"boundaries file not found: {path}")
    try:
        if path.suffix.lower() == ".parquet":
            return gpd.read_parquet(path)
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        layer = prefer_layer if prefer_layer in layers else layers[0]
        return gpd.read_file(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 - GDAL raises many types; all mean "unreadable"
        raise PanelError(f"{path.name}: cannot read boundaries ({exc})") from exc


def _pcode_column(polygons: pd.DataFrame, level: str, path: Path) -> str:
    wanted = f"{level}_pcode"
    for column in polygons.columns:
        if str(column).lower() == wanted:
            return str(column)
    raise PanelError(f"{path.name}: no {wanted!r} column (columns: {list(polygons.columns)})")


# --- PRIO-GRID -----------------------------------------------------------------------------------


def _grid_units(
    events: pd.DataFrame,
    wanted: Sequence[str] | None,
    boundaries: Path | None,
    outline: Callable[[str], object] | None,
    report: BuildReport,
) -> tuple[np.ndarray, pd.DataFrame]:
    codes = list(wanted) if wanted else sorted(events["country_iso3"].dropna().unique())
    if not codes:
        raise PanelError("level pgm needs countries (--countries) or events with a country")
    outlines = country_outlines(codes, boundaries=boundaries, outline=outline)
    cells = land_cells(outlines.values())
    gid = events["priogrid_gid"].copy()
    need = gid.isna() & events["latitude"].notna() & events["longitude"].notna()
    if need.any():
        gid[need] = [
            prio_grid.gid_for_point(la, lo)
            for la, lo in zip(
                events.loc[need, "latitude"], events.loc[need, "longitude"], strict=True
            )
        ]
    report.drop("no cell and no coordinates", int(gid.isna().sum()))
    events = events.assign(priogrid_gid=gid)[gid.notna()]
    inside = events["priogrid_gid"].astype("int64").isin(cells)
    report.drop("outside the land cells of the chosen countries", int((~inside).sum()))
    events = events[inside].assign(priogrid_gid=lambda e: e["priogrid_gid"].astype("int64"))
    return cells, events


def country_outlines(
    codes: Sequence[str],
    *,
    boundaries: Path | None = None,
    outline: Callable[[str], object] | None = None,
) -> dict[str, object]:
    """Outline geometry per ISO3 code, from a boundaries file or from ``tocsin.geo.countries``."""
    if boundaries is not None:
        table = read_country_boundaries(boundaries)
        missing = [c for c in codes if c not in table]
        if missing:
            raise PanelError(f"{boundaries.name}: no outline for {missing}")
        return {c: table[c] for c in codes}
    if outline is None:
        try:
            from tocsin.geo.countries import country_outline as outline  # type: ignore[no-redef]
        except ImportError as exc:
            raise PanelError(
                "no country outlines available: pass --boundaries with a file of country "
                "outlines (ISO3 or ISO numeric ids)"
            ) from exc
    out = {}
    for code in codes:
        try:
            out[code] = outline(code)
        except (KeyError, LookupError, ValueError) as exc:
            raise PanelError(f"no outline for country {code!r}: {exc}") from exc
    return out


# Natural Earth names without an ISO id, folded into the state UCDP codes them under.
_UNCODED_NAMES = {"Somaliland": "SOM", "Kosovo": "XKX", "N. Cyprus": "CYP"}


def read_country_boundaries(path: Path) -> dict[str, object]:
    """``{ISO3: geometry}`` from a vector file whose features carry an ISO3 code (columns such as
    ``iso3``/``ISO_A3``) or an ISO 3166 numeric ``id`` (e.g. Natural Earth's world-atlas)."""
    import pycountry

    frame = _read_boundaries(path, prefer_layer="countries")
    lower = {str(c).lower(): c for c in frame.columns}
    if "iso3" in lower or "iso_a3" in lower:
        codes = frame[lower.get("iso3", lower.get("iso_a3"))].astype("string")
    elif "id" in lower:

        def from_numeric(value: object) -> str | None:
            if value is None or (isinstance(value, float) and np.isnan(value)):
                return None
            country = pycountry.countries.get(numeric=str(value).zfill(3))
            return country.alpha_3 if country else None

        codes = frame[lower["id"]].map(from_numeric)
    else:
        raise PanelError(f"{path.name}: no ISO3 or ISO numeric id column")
    if "name" in lower:
        codes = codes.fillna(frame[lower["name"]].map(_UNCODED_NAMES))
    frame = frame.assign(_iso3=codes)[codes.notna()]
    geoms = shapely.make_valid(frame.geometry.to_numpy())
    return {
        code: shapely.union_all(geoms[np.flatnonzero(frame["_iso3"].to_numpy() == code)])
        for code in frame["_iso3"].unique()
    }


def land_cells(geometries: Iterable[object]) -> np.ndarray:
    """PRIO-GRID ids of the cells whose area intersects any of the geometries, sorted."""
    found: set[int] = set()
    step = prio_grid.CELL_DEG
    for geom in geometries:
        if geom is None or shapely.is_empty(geom):
            continue
        min_lon, min_lat, max_lon, max_lat = shapely.bounds(geom)
        rows = np.arange(
            int(np.floor((min_lat + 90) / step)), min(int(np.floor((max_lat + 90) / step)), 359) + 1
        )
        cols = np.arange(
            int(np.floor((min_lon + 180) / step)),
            min(int(np.floor((max_lon + 180) / step)), prio_grid.COLUMNS - 1) + 1,
        )
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        rr, cc = rr.ravel(), cc.ravel()
        boxes = shapely.box(
            cc * step - 180, rr * step - 90, (cc + 1) * step - 180, (rr + 1) * step - 90
        )
        shapely.prepare(geom)
        hit = shapely.intersects(geom, boxes) & ~shapely.touches(geom, boxes)
        found.update((rr[hit] * prio_grid.COLUMNS + cc[hit] + 1).tolist())
    return np.array(sorted(found), dtype=np.int64)
