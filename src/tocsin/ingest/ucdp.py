"""UCDP Georeferenced Event Dataset (GED) CSV, in its three layouts.

- the download (``ged231-csv``): ``id, relid, year, ..., date_start, date_end, date_prec, ...``;
- the UCDP API layout: the same fields plus ``geom_wkt``, with ``relid`` as a string id;
- reduced teaching files (``ged211_global_precise``): ``id, year, month, day, country,
  type_of_violence`` (text) ``+ type_of_violence_code, low/best/high_death,
  priogrid_gid_computed``.

Mapping (dataset ``ucdp_ged``, original id = GED ``id``, which UCDP keeps stable across
versions):

- dates: ``date_start``/``date_end`` with ``date_prec`` (1-5, as DatePrecision); the reduced
  layout gives one day (year/month/day) and no ``date_prec``: it is stored as that day with
  precision DAY, which overstates the precision of the few GED events coded to a longer span;
- place: latitude/longitude, ``where_prec`` (1-7, as LocationPrecision; unknown in the reduced
  layout), ``adm_1``/``adm_2`` names (GED has no P-codes), ``where_coordinates`` as place name,
  ``priogrid_gid`` (computed from the point when absent), country ISO3 from the GW number
  (``country_id``) or else the country name;
- type: ``type_of_violence`` 1/2/3. One-sided (3) is violence against civilians: side_a is the
  perpetrator and side_b ("Civilians") the target, threat category ``attack_on_civilians``, act
  ``killing`` when deaths > 0 (every death in a one-sided event is a civilian one, so in the
  reduced layout civilian fatalities = best). State-based and non-state events are
  ``armed_clash`` between side_a and side_b, threat category ``armed_conflict_near_civilians``,
  plus ``killing`` when ``deaths_civilians`` > 0;
- fatalities: best/low/high and ``deaths_civilians``. UCDP sometimes codes a ``low`` above
  ``best`` or a ``high`` below it; such a row is kept with a warning and its low/high widened
  to min/max of the three, so that the invariant low <= best <= high holds;
- sources: one SourceRef per ``source_office`` entry (with its date and headline), or the
  ``source_article`` text when there is no office list. UCDP is a vetted, peer-reviewed
  dataset, so its records are graded B (usually reliable) / 2 (probably true), or B/3 when
  UCDP marks the event as unclear (``event_clarity`` 2). The reduced layout carries no sources;
  its events cite "UCDP GED" itself with the same grade;
- sensitivity ``public`` (UCDP publishes it under CC BY 4.0), case class ``general``.

The dataset version comes from ``--dataset-version``, else from a file name like ``ged231``
(-> "23.1").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef, VictimGroup
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActorRole,
    ActType,
    DatePrecision,
    LocationPrecision,
    PocThreatCategory,
    ViolenceType,
)
from tocsin.ingest.base import (
    FormatReader,
    Parsed,
    Record,
    Rejected,
    clean_text,
    fast_stable_uid,
    grid_of,
    parse_float,
    parse_int,
    parse_iso_date,
)
from tocsin.ingest.countries import iso3_from_gw, iso3_from_name
from tocsin.ingest.csvsource import CsvRows

DATASET = "ucdp_ged"

FULL_REQUIRED = (
    "id",
    "type_of_violence",
    "side_a",
    "side_b",
    "latitude",
    "longitude",
    "date_start",
    "date_end",
    "best",
    "low",
    "high",
)
REDUCED_REQUIRED = (
    "id",
    "year",
    "month",
    "day",
    "country",
    "type_of_violence_code",
    "side_a",
    "side_b",
    "latitude",
    "longitude",
    "low_death",
    "best_death",
    "high_death",
)

UCDP_RELIABILITY = SourceReliability.B
CLEAR = InformationCredibility.PROBABLY_TRUE
UNCLEAR = InformationCredibility.POSSIBLY_TRUE

# Frozen (immutable) values shared by many events instead of rebuilt per row.
_UCDP_ITSELF = (SourceRef("UCDP GED", None, None, UCDP_RELIABILITY, CLEAR),)
_LINKS: dict[tuple[str, ActorRole], ActorLink] = {}

_VERSION_IN_NAME = re.compile(r"ged(\d{2})(\d)", re.IGNORECASE)


def looks_like(header: list[str]) -> bool:
    names = {h.strip().lower() for h in header}
    return (
        "id" in names
        and "type_of_violence" in names
        and ("date_start" in names or "type_of_violence_code" in names)
    )


def version_from_filename(name: str) -> str | None:
    match = _VERSION_IN_NAME.search(name)
    return f"{int(match.group(1))}.{match.group(2)}" if match else None


def _actor_kind(name: str) -> ActorKind:
    if name.startswith("Government of"):
        return ActorKind.STATE_FORCE
    if name == "Civilians":
        return ActorKind.CIVILIANS
    return ActorKind.ARMED_GROUP


class UcdpReader(FormatReader):
    format_name = "ucdp"
    dataset = DATASET

    def __init__(self, rows: CsvRows, dataset_version: str | None) -> None:
        self._rows = rows
        self._version = dataset_version
        if "type_of_violence_code" in rows.index and "date_start" not in rows.index:
            rows.require(REDUCED_REQUIRED, "UCDP GED (reduced layout)")
            self.layout = "reduced"
        else:
            rows.require(FULL_REQUIRED, "UCDP GED")
            self.layout = "full"
        self._names = rows.header

    def __iter__(self) -> Iterator[Record]:
        convert = self._reduced if self.layout == "reduced" else self._full
        width = self._rows.width
        for line, fields in self._rows:
            if len(fields) != width:
                yield Rejected(
                    line, f"row has {len(fields)} fields, the header has {width}", fields
                )
                continue
            warnings: list[str] = []
            try:
                event = convert(fields, warnings)
            except ValueError as exc:
                yield Rejected(line, str(exc), fields)
                continue
            yield Parsed(line, event, fields, warnings)

    # -- the two layouts -------------------------------------------------------------------

    def _full(self, f: list[str], warnings: list[str]) -> Event:
        get = dict(zip(self._names, f, strict=True)).get
        original_id = _required_id(get("id"))
        violence = _violence(get("type_of_violence"))
        start = parse_iso_date(get("date_start"), "date_start")
        end = parse_iso_date(get("date_end"), "date_end")
        lat, lon = _point(get)
        low, best, high = _fatalities(
            get("low"), get("best"), get("high"), warnings, ("low", "best", "high")
        )
        civilians = parse_int(get("deaths_civilians"), "deaths_civilians")
        clarity = parse_int(get("event_clarity"), "event_clarity")
        credibility = UNCLEAR if clarity == 2 else CLEAR
        country_name = clean_text(get("country"))
        iso3 = iso3_from_gw(get("country_id")) or iso3_from_name(country_name)
        if iso3 is None and country_name:
            warnings.append(f"unknown country {country_name!r}: country code left empty")
        side_a, side_b = clean_text(get("side_a")), clean_text(get("side_b"))
        return _event(
            original_id=original_id,
            version=self._version,
            date_start=start,
            date_end=end,
            date_precision=_enum(DatePrecision, get("date_prec"), "date_prec", DatePrecision.DAY),
            latitude=lat,
            longitude=lon,
            location_precision=_enum(LocationPrecision, get("where_prec"), "where_prec", None),
            country_iso3=iso3,
            country_name=country_name,
            admin1_name=clean_text(get("adm_1")),
            admin2_name=clean_text(get("adm_2")),
            place_name=clean_text(get("where_coordinates")) or clean_text(get("where_description")),
            priogrid_gid=_priogrid(get("priogrid_gid"), lat, lon),
            violence=violence,
            side_a=side_a,
            side_b=side_b,
            low=low,
            best=best,
            high=high,
            civilians=civilians,
            sources=_sources(get, credibility),
            title=clean_text(get("dyad_name")) or clean_text(get("conflict_name")),
        )

    def _reduced(self, f: list[str], warnings: list[str]) -> Event:
        get = dict(zip(self._names, f, strict=True)).get
        original_id = _required_id(get("id"))
        violence = _violence(get("type_of_violence_code"))
        try:
            day = date(
                parse_int(get("year"), "year") or 0,
                parse_int(get("month"), "month") or 0,
                parse_int(get("day"), "day") or 0,
            )
        except ValueError as exc:
            raise ValueError(f"year/month/day do not form a date ({exc})") from None
        lat, lon = _point(get)
        low, best, high = _fatalities(
            get("low_death"),
            get("best_death"),
            get("high_death"),
            warnings,
            ("low_death", "best_death", "high_death"),
        )
        country_name = clean_text(get("country"))
        iso3 = iso3_from_name(country_name)
        if iso3 is None and country_name:
            warnings.append(f"unknown country {country_name!r}: country code left empty")
        return _event(
            original_id=original_id,
            version=self._version,
            date_start=day,
            date_end=day,
            date_precision=DatePrecision.DAY,
            latitude=lat,
            longitude=lon,
            location_precision=None,
            country_iso3=iso3,
            country_name=country_name,
            admin1_name=None,
            admin2_name=None,
            place_name=None,
            priogrid_gid=_priogrid(get("priogrid_gid_computed"), lat, lon),
            violence=violence,
            side_a=clean_text(get("side_a")),
            side_b=clean_text(get("side_b")),
            low=low,
            best=best,
            high=high,
            civilians=best if violence is ViolenceType.ONE_SIDED else None,
            sources=_UCDP_ITSELF,
            title=clean_text(get("conflict_name")),
        )


def _event(
    *,
    original_id: str,
    version: str | None,
    violence: ViolenceType,
    side_a: str | None,
    side_b: str | None,
    low: int | None,
    best: int | None,
    high: int | None,
    civilians: int | None,
    **fields,  # type: ignore[no-untyped-def]
) -> Event:
    actors: list[ActorLink] = []
    if violence is ViolenceType.ONE_SIDED:
        if side_a:
            actors.append(_link(side_a, ActorRole.PERPETRATOR))
        if side_b:
            actors.append(_link(side_b, ActorRole.TARGET))
        threat = PocThreatCategory.ATTACK_ON_CIVILIANS
        acts: tuple[ActType, ...] = (ActType.KILLING,) if (best or 0) > 0 else ()
    else:
        if side_a:
            actors.append(_link(side_a, ActorRole.SIDE_A))
        if side_b:
            actors.append(_link(side_b, ActorRole.SIDE_B))
        threat = PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS
        acts = (
            (ActType.ARMED_CLASH, ActType.KILLING)
            if (civilians or 0) > 0
            else (ActType.ARMED_CLASH,)
        )
    victims = (VictimGroup("Civilians killed", civilians),) if (civilians or 0) > 0 else ()
    return Event(
        provenance=Provenance(DATASET, original_id, version),
        uid=fast_stable_uid(DATASET, original_id),
        violence_type=violence,
        threat_category=threat,
        act_types=acts,
        actors=tuple(actors),
        victims=victims,
        fatalities_low=low,
        fatalities_best=best,
        fatalities_high=high,
        civilian_fatalities=civilians,
        **fields,
    )


def _link(name: str, role: ActorRole) -> ActorLink:
    link = _LINKS.get((name, role))
    if link is None:
        link = ActorLink(name, role, _actor_kind(name))
        if len(_LINKS) < 50_000:  # bounded: a few thousand actors in all of GED
            _LINKS[(name, role)] = link
    return link


def _required_id(text: str | None) -> str:
    value = (text or "").strip()
    if not value:
        raise ValueError("id is empty")
    if value.endswith(".0") and value[:-2].isdigit():
        value = value[:-2]
    if len(value) > 128:
        raise ValueError("id is longer than 128 characters")
    return value


def _violence(text: str | None) -> ViolenceType:
    value = (text or "").strip()
    if not value:
        raise ValueError("type_of_violence is empty")
    try:
        return ViolenceType.from_ucdp(int(float(value)))
    except ValueError:
        raise ValueError(f"unknown type_of_violence {value[:20]!r} (expected 1, 2 or 3)") from None


def _point(get) -> tuple[float | None, float | None]:  # type: ignore[no-untyped-def]
    lat = parse_float(get("latitude"), "latitude")
    lon = parse_float(get("longitude"), "longitude")
    return lat, lon


def _fatalities(
    low_text: str | None,
    best_text: str | None,
    high_text: str | None,
    warnings: list[str],
    names: tuple[str, str, str],
) -> tuple[int | None, int | None, int | None]:
    low = parse_int(low_text, names[0])
    best = parse_int(best_text, names[1])
    high = parse_int(high_text, names[2])
    if low is not None and best is not None and high is not None and not low <= best <= high:
        fixed_low, fixed_high = min(low, best, high), max(low, best, high)
        warnings.append(
            f"fatality estimates low/best/high {low}/{best}/{high} are not ordered; "
            f"stored as {fixed_low}/{best}/{fixed_high}"
        )
        low, high = fixed_low, fixed_high
    return low, best, high


def _priogrid(text: str | None, lat: float | None, lon: float | None) -> int | None:
    gid = parse_int(text, "priogrid_gid")
    return grid_of(lat, lon) if gid is None else gid


def _enum(kind, text: str | None, what: str, default):  # type: ignore[no-untyped-def]
    value = parse_int(text, what)
    if value is None:
        return default
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{what} {value} is not a valid UCDP code") from None


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(";")]


def _sources(get, credibility: InformationCredibility) -> tuple[SourceRef, ...]:  # type: ignore[no-untyped-def]
    offices = [o for o in _split(get("source_office")) if o]
    if offices:
        dates = _split(get("source_date"))
        headlines = _split(get("source_headline"))
        aligned = len(dates) == len(offices) and len(headlines) == len(offices)
        out = []
        for i, office in enumerate(offices):
            published = None
            headline = None
            if aligned:
                try:
                    published = date.fromisoformat(dates[i][:10]) if dates[i] else None
                except ValueError:
                    published = None
                headline = headlines[i] or None
            out.append(SourceRef(office, headline, published, UCDP_RELIABILITY, credibility))
        return tuple(out)
    article = clean_text(get("source_article"))
    original = clean_text(get("source_original"))
    if article:
        return (SourceRef(article, original, None, UCDP_RELIABILITY, credibility),)
    if original:
        return (SourceRef(original, None, None, UCDP_RELIABILITY, credibility),)
    return (SourceRef("UCDP GED", None, None, UCDP_RELIABILITY, credibility),)
