"""Flat event records (the field names of Tocsin's own CSV/GeoJSON/HXL export) to events.

The GeoJSON and HXL adapters both end here. Field names are those of
``tocsin.store.export.RECORD_FIELDS``: ``original_id, date_start, date_end, date_precision,
latitude, longitude, location_precision, country_iso3, ..., violence_type, threat_category,
act_types, perpetrators, side_a, side_b, targets, fatalities_*, victims_*, sources,
source_grades, sensitivity, case_class, title, description``. Multi-valued fields are
"; "-joined. Anything absent is unknown (None), never guessed.

Dataset naming: an event keeps its ``original_id``, but its dataset is prefixed with the
exchange format (``geojson:ucdp_ged``), or is ``geojson:<file stem>`` when the record names no
dataset. So importing an export back into the store it came from adds a visibly separate copy
instead of overwriting the richer original with its flattened form (source references, actor
kinds and victim-group details are not in the flat record).

Defaults: sensitivity ``internal`` (the file's origin is unknown, so it is not published until
someone decides), case class ``general``, date precision DAY, source grade F6 (cannot be judged)
unless ``source_grades`` gives Admiralty codes. A need-to-know case class (sexual violence,
children, mission-personnel misconduct) is never stored below ``restricted``: a lower tier in
the file is raised, with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef, VictimGroup
from tocsin.domain.grading import InformationCredibility, SourceReliability, parse_grade
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
    clean_text,
    fast_stable_uid,
    grid_of,
    parse_float,
    parse_int,
    parse_iso_date,
)
from tocsin.ingest.countries import iso3_from_name, normalize_iso3

SEPARATOR = ";"
DEFAULT_SENSITIVITY = SensitivityTier.INTERNAL
# Need-to-know case classes are never stored below restricted, whatever a file says.
MINIMUM_TIER = {
    CaseClass.SEXUAL_VIOLENCE: SensitivityTier.RESTRICTED,
    CaseClass.CHILDREN: SensitivityTier.RESTRICTED,
    CaseClass.MISSION_PERSONNEL_MISCONDUCT: SensitivityTier.RESTRICTED,
}
_ROLES = (
    ("perpetrators", ActorRole.PERPETRATOR),
    ("side_a", ActorRole.SIDE_A),
    ("side_b", ActorRole.SIDE_B),
    ("targets", ActorRole.TARGET),
)


def split_multi(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        items = str(value).split(SEPARATOR)
    return [item.strip() for item in items if item and item.strip()]


def _enum_value(kind, value: object, what: str, default):  # type: ignore[no-untyped-def]
    text = clean_text(value)
    if text is None:
        return default
    try:
        return kind(text.lower())
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise ValueError(f"{what} {text[:40]!r} is not one of: {allowed}") from None


def _int_enum(kind, value: object, what: str, default):  # type: ignore[no-untyped-def]
    number = parse_int(value, what)
    if number is None:
        return default
    try:
        return kind(number)
    except ValueError:
        raise ValueError(f"{what} {number} is out of range") from None


def _violence(value: object) -> ViolenceType | None:
    text = clean_text(value)
    if text is None:
        return None
    if text in {"1", "2", "3"}:
        return ViolenceType.from_ucdp(text)
    key = text.lower().replace("-", "_").replace(" ", "_")
    try:
        return ViolenceType(key)
    except ValueError:
        raise ValueError(
            f"violence_type {text[:40]!r} is not state_based, non_state or one_sided"
        ) from None


def _pcode(value: object) -> str | None:
    """P-codes are upper case by OCHA convention; the store's P-code filter relies on it."""
    text = clean_text(value)
    if text is None:
        return None
    if len(text) > 32:
        raise ValueError(f"P-code {text[:40]!r} is longer than 32 characters")
    return text.upper()


def record_to_event(
    record: Mapping[str, object],
    *,
    prefix: str,
    default_dataset: str,
    dataset_version: str | None,
    warnings: list[str],
) -> Event:
    """An event from a flat record; raises ValueError for a row that cannot be one."""
    original_id = clean_text(record.get("original_id"))
    if original_id is None:
        raise ValueError("original_id is empty")
    if len(original_id) > 128:
        raise ValueError("original_id is longer than 128 characters")
    source_dataset = clean_text(record.get("dataset"))
    dataset = f"{prefix}:{source_dataset}" if source_dataset else default_dataset
    if len(dataset) > 64:
        raise ValueError(f"dataset name {dataset[:70]!r} is longer than 64 characters")

    start = parse_iso_date(record.get("date_start"), "date_start")
    end_text = clean_text(record.get("date_end"))
    end: date = parse_iso_date(end_text, "date_end") if end_text else start

    lat = parse_float(record.get("latitude"), "latitude")
    lon = parse_float(record.get("longitude"), "longitude")
    gid = parse_int(record.get("priogrid_gid"), "priogrid_gid")
    if gid is None:
        gid = grid_of(lat, lon)

    iso_text = clean_text(record.get("country_iso3"))
    country_name = clean_text(record.get("country_name"))
    iso3 = normalize_iso3(iso_text) if iso_text else iso3_from_name(country_name)
    if iso_text and iso3 is None:
        warnings.append(f"unknown country code {iso_text[:10]!r}: left empty")

    actors: list[ActorLink] = []
    for field, role in _ROLES:
        for name in split_multi(record.get(field)):
            kind = (
                ActorKind.CIVILIANS if name.lower().startswith("civilians") else ActorKind.UNKNOWN
            )
            actors.append(ActorLink(name[:255], role, kind))

    acts = tuple(
        _enum_value(ActType, a, "act type", None) for a in split_multi(record.get("act_types"))
    )

    names = split_multi(record.get("sources"))
    grades = split_multi(record.get("source_grades"))
    sources: list[SourceRef] = []
    for i, name in enumerate(names):
        reliability, credibility = SourceReliability.F, InformationCredibility.CANNOT_BE_JUDGED
        if len(grades) == len(names):
            try:
                reliability, credibility = parse_grade(grades[i])
            except ValueError as exc:
                warnings.append(f"source grade ignored: {exc}")
        sources.append(SourceRef(name, None, None, reliability, credibility))

    victims: tuple[VictimGroup, ...] = ()
    counts = {
        key: parse_int(record.get(f"victims_{key}"), f"victims_{key}")
        for key in ("total", "female", "male", "children", "adults")
    }
    description = clean_text(record.get("victim_groups"))
    if description or any(v is not None for v in counts.values()):
        victims = (
            VictimGroup(
                description or "Victims",
                counts["total"],
                counts["female"],
                counts["male"],
                counts["children"],
                counts["adults"],
            ),
        )

    case_class = _enum_value(CaseClass, record.get("case_class"), "case_class", CaseClass.GENERAL)
    sensitivity = _enum_value(
        SensitivityTier, record.get("sensitivity"), "sensitivity", DEFAULT_SENSITIVITY
    )
    floor = MINIMUM_TIER.get(case_class, SensitivityTier.PUBLIC)
    if sensitivity < floor:
        warnings.append(
            f"sensitivity {sensitivity.value} is below the minimum for {case_class.value} "
            f"cases; stored as {floor.value}"
        )
        sensitivity = floor

    return Event(
        provenance=Provenance(dataset, original_id, dataset_version),
        uid=fast_stable_uid(dataset, original_id),
        date_start=start,
        date_end=end,
        date_precision=_int_enum(
            DatePrecision, record.get("date_precision"), "date_precision", DatePrecision.DAY
        ),
        latitude=lat,
        longitude=lon,
        location_precision=_int_enum(
            LocationPrecision, record.get("location_precision"), "location_precision", None
        ),
        country_iso3=iso3,
        country_name=country_name,
        admin1_pcode=_pcode(record.get("admin1_pcode")),
        admin1_name=clean_text(record.get("admin1_name")),
        admin2_pcode=_pcode(record.get("admin2_pcode")),
        admin2_name=clean_text(record.get("admin2_name")),
        place_name=clean_text(record.get("place_name")),
        priogrid_gid=gid,
        violence_type=_violence(record.get("violence_type")),
        threat_category=_enum_value(
            PocThreatCategory, record.get("threat_category"), "threat_category", None
        ),
        act_types=acts,
        actors=tuple(actors),
        victims=victims,
        fatalities_best=parse_int(record.get("fatalities_best"), "fatalities_best"),
        fatalities_low=parse_int(record.get("fatalities_low"), "fatalities_low"),
        fatalities_high=parse_int(record.get("fatalities_high"), "fatalities_high"),
        civilian_fatalities=parse_int(record.get("civilian_fatalities"), "civilian_fatalities"),
        sources=tuple(sources),
        sensitivity=sensitivity,
        case_class=case_class,
        title=clean_text(record.get("title")),
        description=clean_text(record.get("description")),
    )
