"""ACLED CSV with the current codebook columns (2023 onwards).

Columns read: ``event_id_cnty, event_date, year, time_precision, disorder_type, event_type,
sub_event_type, actor1, assoc_actor_1, inter1, actor2, assoc_actor_2, inter2, interaction,
civilian_targeting, iso, region, country, admin1, admin2, admin3, location, latitude,
longitude, geo_precision, source, source_scale, notes, fatalities, tags, timestamp``. Required:
``event_id_cnty, event_date, event_type, sub_event_type, actor1, latitude, longitude,
fatalities``. Column names are case-insensitive (older exports are upper case).

Mapping (dataset ``acled``, original id = ``event_id_cnty``):

- ``event_date`` (YYYY-MM-DD, or "15 January 2024", "15-01-2024", "15/01/2024", day first) with
  ``time_precision`` 1/2/3 -> DAY/WEEK/MONTH; ``geo_precision`` 1/2/3 -> EXACT/NEAR/ADMIN1;
- violence type: ``civilian_targeting`` = "Civilian targeting" or event type "Violence
  against civilians" -> one-sided, actor1 the perpetrator and actor2 (usually "Civilians
  (Country)") the target, civilian fatalities = fatalities. Battles and explosions between
  armed actors -> state-based when either actor is state forces (``inter`` 1 / "State
  forces"), else non-state. Protests, riots and strategic developments have no UCDP type;
- act types from ``sub_event_type``: Attack -> killing (when fatalities > 0), Abduction/forced
  disappearance -> abduction, Sexual violence -> sexual_violence, Looting/property destruction
  -> looting + property_destruction, Armed clash (and territory changes) -> armed_clash,
  air/drone strike, shelling, IED, grenade, suicide bomb, chemical weapon -> killing when
  fatalities > 0, else other; anything else -> other;
- threat category: sexual violence -> conflict_related_sexual_violence; looting -> attack on
  civilian objects; other civilian targeting -> attack_on_civilians; battles/explosions ->
  armed_conflict_near_civilians;
- actor kinds from ``inter1``/``inter2`` (1 state forces, 2 rebels, 3 political militia, 4
  identity militia, 5 rioters, 6 protesters, 7 civilians, 8 external/other; numbers or names);
  associated actors get the role of their main actor;
- sources: each ";"-separated ``source`` graded B3: ACLED is a curated, vetted dataset (B), but
  codes weekly from media and partner reports that are rarely confirmed independently, and its
  own codebook calls fatality counts the most biased field (3, possibly true);
- sensitivity ``internal``: ACLED's terms forbid redistributing its data, so its events are not
  shown on public pages; sexual-violence events are ``restricted`` with case class
  ``sexual_violence``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime

from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef, VictimGroup
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActorRole,
    ActType,
    CaseClass,
    DatePrecision,
    LocationPrecision,
    PocThreatCategory,
    SensitivityTier,
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
)
from tocsin.ingest.countries import iso3_from_name, iso3_from_numeric
from tocsin.ingest.csvsource import CsvRows

DATASET = "acled"
REQUIRED = (
    "event_id_cnty",
    "event_date",
    "event_type",
    "sub_event_type",
    "actor1",
    "latitude",
    "longitude",
    "fatalities",
)
RELIABILITY = SourceReliability.B
CREDIBILITY = InformationCredibility.POSSIBLY_TRUE

_DATE_FORMATS = ("%d %B %Y", "%d-%B-%Y", "%d %b %Y", "%d-%b-%Y", "%d-%m-%Y", "%d/%m/%Y")
_TIME_PRECISION = {1: DatePrecision.DAY, 2: DatePrecision.WEEK, 3: DatePrecision.MONTH}
_GEO_PRECISION = {
    1: LocationPrecision.EXACT,
    2: LocationPrecision.NEAR,
    3: LocationPrecision.ADMIN1,
}

_INTER_KINDS = {
    1: ActorKind.STATE_FORCE,
    2: ActorKind.ARMED_GROUP,
    3: ActorKind.MILITIA,
    4: ActorKind.MILITIA,
    5: ActorKind.OTHER,
    6: ActorKind.OTHER,
    7: ActorKind.CIVILIANS,
    8: ActorKind.OTHER,
}
_INTER_NAMES = {
    "state forces": 1,
    "rebel group": 2,
    "political militia": 3,
    "identity militia": 4,
    "rioters": 5,
    "protesters": 6,
    "civilians": 7,
    "external/other forces": 8,
}

_REMOTE = {
    "air/drone strike",
    "shelling/artillery/missile attack",
    "remote explosive/landmine/ied",
    "grenade",
    "suicide bomb",
    "chemical weapon",
}
_CLASH = {"armed clash", "government regains territory", "non-state actor overtakes territory"}


def _inter_code(value: object) -> int | None:
    text = clean_text(value)
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    return _INTER_NAMES.get(text.lower())


def classify_event_type(
    text: str, record: Mapping[str, object] | None = None
) -> tuple[str | None, list[str], str | None]:
    """(violence type, act types, threat category) values for an event-type label.

    Accepts Tocsin's own values (``one_sided``...), UCDP codes 1-3, and ACLED event and
    sub-event types. ``record`` may carry ``fatalities_best`` to decide on ``killing``.
    """
    label = text.strip().lower()
    deaths = 0
    if record is not None:
        try:
            deaths = parse_int(record.get("fatalities_best"), "fatalities") or 0
        except ValueError:
            deaths = 0
    for member in ViolenceType:
        if label in (member.value, member.value.replace("_", " "), member.value.replace("_", "-")):
            return member.value, [], None
    if label in {"1", "2", "3"}:
        return ViolenceType.from_ucdp(label).value, [], None
    violence, acts, threat = _classify(label, label, deaths, civilian_targeting=False, state=False)
    return (
        (None if violence is None else violence.value),
        [a.value for a in acts],
        (None if threat is None else threat.value),
    )


def _classify(
    sub_event: str,
    event_type: str,
    deaths: int,
    *,
    civilian_targeting: bool,
    state: bool,
) -> tuple[ViolenceType | None, tuple[ActType, ...], PocThreatCategory | None]:
    sub = sub_event.lower()
    kind = event_type.lower()
    one_sided = civilian_targeting or kind == "violence against civilians"
    if sub == "sexual violence":
        return (
            ViolenceType.ONE_SIDED,
            (ActType.SEXUAL_VIOLENCE,),
            PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE,
        )
    if sub == "abduction/forced disappearance":
        return ViolenceType.ONE_SIDED, (ActType.ABDUCTION,), PocThreatCategory.ATTACK_ON_CIVILIANS
    if sub == "attack" or kind == "violence against civilians":
        acts = (ActType.KILLING,) if deaths > 0 else (ActType.OTHER,)
        return ViolenceType.ONE_SIDED, acts, PocThreatCategory.ATTACK_ON_CIVILIANS
    if sub == "looting/property destruction":
        return (
            ViolenceType.ONE_SIDED if one_sided else None,
            (ActType.LOOTING, ActType.PROPERTY_DESTRUCTION),
            PocThreatCategory.ATTACK_ON_CIVILIAN_OBJECTS,
        )
    armed = state
    if sub in _CLASH or kind == "battles":
        violence = (
            ViolenceType.ONE_SIDED
            if one_sided
            else (ViolenceType.STATE_BASED if armed else ViolenceType.NON_STATE)
        )
        threat = (
            PocThreatCategory.ATTACK_ON_CIVILIANS
            if one_sided
            else PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS
        )
        return violence, (ActType.ARMED_CLASH,), threat
    if sub in _REMOTE or kind == "explosions/remote violence":
        acts = (ActType.KILLING,) if deaths > 0 else (ActType.OTHER,)
        if one_sided:
            return ViolenceType.ONE_SIDED, acts, PocThreatCategory.ATTACK_ON_CIVILIANS
        violence = ViolenceType.STATE_BASED if armed else ViolenceType.NON_STATE
        return violence, acts, PocThreatCategory.ARMED_CONFLICT_NEAR_CIVILIANS
    if sub in {"mob violence", "excessive force against protesters"} and (one_sided or deaths):
        acts = (ActType.KILLING,) if deaths > 0 else (ActType.OTHER,)
        return (
            ViolenceType.ONE_SIDED if one_sided else None,
            acts,
            PocThreatCategory.ATTACK_ON_CIVILIANS,
        )
    if one_sided:
        acts = (ActType.KILLING,) if deaths > 0 else (ActType.OTHER,)
        return ViolenceType.ONE_SIDED, acts, PocThreatCategory.ATTACK_ON_CIVILIANS
    return None, (ActType.OTHER,), None


def parse_acled_date(text: str) -> date:
    value = text.strip()
    if not value:
        raise ValueError("event_date is empty")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()  # noqa: DTZ007 - a calendar date
        except ValueError:
            continue
    raise ValueError(f"event_date {value[:40]!r} is not a date ACLED writes")


class AcledReader(FormatReader):
    format_name = "acled"
    dataset = DATASET

    def __init__(self, rows: CsvRows, dataset_version: str | None) -> None:
        rows.require(REQUIRED, "ACLED")
        self._rows = rows
        self._version = dataset_version
        self.dataset_version = dataset_version

    def __iter__(self) -> Iterator[Record]:
        width = self._rows.width
        index = self._rows.index
        for line, fields in self._rows:
            if len(fields) != width:
                yield Rejected(
                    line, f"row has {len(fields)} fields, the header has {width}", fields
                )
                continue
            row = {name: fields[i] for name, i in index.items()}
            warnings: list[str] = []
            try:
                event = self._event(row, warnings)
            except ValueError as exc:
                yield Rejected(line, str(exc), fields)
                continue
            yield Parsed(line, event, fields, warnings)

    def _event(self, row: dict[str, str], warnings: list[str]) -> Event:
        original_id = clean_text(row.get("event_id_cnty"))
        if original_id is None:
            raise ValueError("event_id_cnty is empty")
        day = parse_acled_date(row.get("event_date", ""))
        deaths = parse_int(row.get("fatalities"), "fatalities")
        lat = parse_float(row.get("latitude"), "latitude")
        lon = parse_float(row.get("longitude"), "longitude")
        inter1 = _inter_code(row.get("inter1"))
        inter2 = _inter_code(row.get("inter2"))
        targeting = (clean_text(row.get("civilian_targeting")) or "").lower().startswith("civilian")
        event_type = clean_text(row.get("event_type")) or ""
        sub_event = clean_text(row.get("sub_event_type")) or ""
        violence, acts, threat = _classify(
            sub_event,
            event_type,
            deaths or 0,
            civilian_targeting=targeting,
            state=1 in (inter1, inter2),
        )
        one_sided = violence is ViolenceType.ONE_SIDED
        role1 = ActorRole.PERPETRATOR if one_sided else ActorRole.SIDE_A
        role2 = ActorRole.TARGET if one_sided else ActorRole.SIDE_B
        actors: list[ActorLink] = []
        for main, assoc, inter, role in (
            ("actor1", "assoc_actor_1", inter1, role1),
            ("actor2", "assoc_actor_2", inter2, role2),
        ):
            kind = _INTER_KINDS.get(inter or 0, ActorKind.UNKNOWN)
            name = clean_text(row.get(main))
            if name:
                actors.append(ActorLink(name[:255], role, kind))
            for extra in (clean_text(row.get(assoc)) or "").split(";"):
                if extra.strip():
                    actors.append(ActorLink(extra.strip()[:255], role, ActorKind.UNKNOWN))

        sexual = ActType.SEXUAL_VIOLENCE in acts
        iso3 = iso3_from_numeric(row.get("iso")) or iso3_from_name(row.get("country"))
        if iso3 is None and clean_text(row.get("country")):
            warnings.append(f"unknown country {row.get('country')!r}: country code left empty")
        sources = tuple(
            SourceRef(name.strip(), None, None, RELIABILITY, CREDIBILITY)
            for name in (row.get("source") or "").split(";")
            if name.strip()
        ) or (SourceRef("ACLED", None, None, RELIABILITY, CREDIBILITY),)
        civilians = deaths if one_sided else None
        victims = (VictimGroup("Civilians killed", deaths),) if one_sided and deaths else ()
        location = clean_text(row.get("location"))
        gid = grid_of(lat, lon)
        return Event(
            provenance=Provenance(DATASET, original_id, self._version),
            uid=fast_stable_uid(DATASET, original_id),
            date_start=day,
            date_end=day,
            date_precision=_lookup(_TIME_PRECISION, row.get("time_precision"), "time_precision")
            or DatePrecision.DAY,
            latitude=lat,
            longitude=lon,
            location_precision=_lookup(_GEO_PRECISION, row.get("geo_precision"), "geo_precision"),
            country_iso3=iso3,
            country_name=clean_text(row.get("country")),
            admin1_name=clean_text(row.get("admin1")),
            admin2_name=clean_text(row.get("admin2")),
            place_name=location,
            priogrid_gid=gid,
            violence_type=violence,
            threat_category=threat,
            act_types=acts,
            actors=tuple(actors),
            victims=victims,
            fatalities_best=deaths,
            civilian_fatalities=civilians,
            sources=sources,
            sensitivity=SensitivityTier.RESTRICTED if sexual else SensitivityTier.INTERNAL,
            case_class=CaseClass.SEXUAL_VIOLENCE if sexual else CaseClass.GENERAL,
            title=" - ".join(p for p in (sub_event or event_type, location) if p) or None,
            description=clean_text(row.get("notes")),
        )


def _lookup(table, value: object, what: str):  # type: ignore[no-untyped-def]
    code = parse_int(value, what)
    if code is None:
        return None
    if code not in table:
        raise ValueError(f"{what} {code} is not an ACLED code ({', '.join(map(str, table))})")
    return table[code]
