"""Flat event records and streaming writers for CSV, GeoJSON and HXL.

The pipeline is ``StoredEvent -> event_to_record -> (redaction by the API's security layer)
-> writer``. Writers take any iterable of flat ``dict`` records and hold one record at a time,
so an export of 150,000 events runs in constant memory. They never assume the full
:data:`RECORD_FIELDS`: a field that was redacted is *absent* from the record, and the column set
is whatever the caller passes as ``fields`` (else the keys of the first record). A record with a
key outside that column set is an error rather than being silently dropped.

Values are ``str``, ``int``, ``float``, ``date``/``datetime`` or ``None``. Multi-valued fields
(act types, actor names, sources) are joined with ``"; "`` (:data:`MULTI_SEPARATOR`).

CSV (RFC 4180, UTF-8, CRLF) and HXL cells are protected against CSV injection (OWASP): a text
cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with ``'`` so a
spreadsheet shows it as text instead of running it as a formula. Text that is a plain decimal
number (``-3.5``, ``+12``) is left alone because a spreadsheet reads it as that number and runs
nothing; numeric fields (coordinates, counts) are numbers, not text, and are never touched.
A text cell that already starts with ``'`` before such a character gets one more ``'``, so
:func:`unescape_cell` restores every value exactly; importers of our CSV/HXL should apply it.

HXL mapping (:data:`HXL_TAGS`; row 1 = field names, row 2 = hashtags, then data). Tags are
written exactly as below. HXL patterns match attribute *subsets* (``#affected+killed`` also
matches ``#affected+killed+civilians``), so readers should pick columns by exact tag, or with
exclusions such as ``#affected+killed-civilians-min-max``.

=====================  ==============================  ===============================
field                  hashtag                         meaning
=====================  ==============================  ===============================
original_id            #event+id                       the dataset's own id
uid                    #event+uid                      Tocsin's stable uid
dataset                #meta+dataset                   dataset name (e.g. ucdp_ged)
dataset_version        #meta+dataset+version
date_start / date_end  #date+start / #date+end         ISO 8601 dates
date_precision         #date+precision                 UCDP date_prec 1-5
country_iso3           #country+code                   ISO 3166 alpha-3
country_name           #country+name
admin1_pcode/_name     #adm1+code / #adm1+name         OCHA P-code / name
admin2_pcode/_name     #adm2+code / #adm2+name
place_name             #loc+name
latitude / longitude   #geo+lat / #geo+lon             WGS 84 decimal degrees
location_precision     #geo+precision                  UCDP where_prec 1-7
priogrid_gid           #geo+priogrid
violence_type          #event+type+violence            state_based|non_state|one_sided
threat_category        #event+type+threat
act_types              #event+type+acts                "; "-joined ActType values
title / description    #event+name / #description
perpetrators           #group+perp                     "; "-joined actor names
side_a / side_b        #group+side_a / #group+side_b
targets                #group+target
fatalities_best        #affected+killed
fatalities_low/_high   #affected+killed+min / +max
civilian_fatalities    #affected+killed+civilians
victims_total          #affected+victims               sum of known victim-group counts
victims_female/_male   #affected+victims+f / +m
victims_children       #affected+victims+children
victims_adults         #affected+victims+adults
victim_groups          #description+victims            "; "-joined group descriptions
sources                #meta+source                    "; "-joined source names
source_grades          #meta+source+grade              Admiralty codes, same order
sensitivity            #meta+sensitivity               public|internal|restricted|...
case_class             #meta+case
updated_at             #date+updated                   ISO 8601 UTC timestamp
=====================  ==============================  ===============================
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, TextIO

from tocsin.domain.grading import format_grade
from tocsin.domain.taxonomy import ActorRole
from tocsin.store.reads import StoredEvent

MULTI_SEPARATOR = "; "

RECORD_FIELDS: tuple[str, ...] = (
    "uid",
    "dataset",
    "dataset_version",
    "original_id",
    "date_start",
    "date_end",
    "date_precision",
    "country_iso3",
    "country_name",
    "admin1_pcode",
    "admin1_name",
    "admin2_pcode",
    "admin2_name",
    "place_name",
    "latitude",
    "longitude",
    "location_precision",
    "priogrid_gid",
    "violence_type",
    "threat_category",
    "act_types",
    "title",
    "description",
    "perpetrators",
    "side_a",
    "side_b",
    "targets",
    "fatalities_best",
    "fatalities_low",
    "fatalities_high",
    "civilian_fatalities",
    "victims_total",
    "victims_female",
    "victims_male",
    "victims_children",
    "victims_adults",
    "victim_groups",
    "sources",
    "source_grades",
    "sensitivity",
    "case_class",
    "updated_at",
)

HXL_TAGS: dict[str, str] = {
    "original_id": "#event+id",
    "uid": "#event+uid",
    "dataset": "#meta+dataset",
    "dataset_version": "#meta+dataset+version",
    "date_start": "#date+start",
    "date_end": "#date+end",
    "date_precision": "#date+precision",
    "country_iso3": "#country+code",
    "country_name": "#country+name",
    "admin1_pcode": "#adm1+code",
    "admin1_name": "#adm1+name",
    "admin2_pcode": "#adm2+code",
    "admin2_name": "#adm2+name",
    "place_name": "#loc+name",
    "latitude": "#geo+lat",
    "longitude": "#geo+lon",
    "location_precision": "#geo+precision",
    "priogrid_gid": "#geo+priogrid",
    "violence_type": "#event+type+violence",
    "threat_category": "#event+type+threat",
    "act_types": "#event+type+acts",
    "title": "#event+name",
    "description": "#description",
    "perpetrators": "#group+perp",
    "side_a": "#group+side_a",
    "side_b": "#group+side_b",
    "targets": "#group+target",
    "fatalities_best": "#affected+killed",
    "fatalities_low": "#affected+killed+min",
    "fatalities_high": "#affected+killed+max",
    "civilian_fatalities": "#affected+killed+civilians",
    "victims_total": "#affected+victims",
    "victims_female": "#affected+victims+f",
    "victims_male": "#affected+victims+m",
    "victims_children": "#affected+victims+children",
    "victims_adults": "#affected+victims+adults",
    "victim_groups": "#description+victims",
    "sources": "#meta+source",
    "source_grades": "#meta+source+grade",
    "sensitivity": "#meta+sensitivity",
    "case_class": "#meta+case",
    "updated_at": "#date+updated",
}

Record = Mapping[str, Any]

_FORMULA_START = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class ExportError(ValueError):
    """A record cannot be written as asked (unknown field, unsupported value, ...)."""


# --- records ------------------------------------------------------------------------------


def event_to_record(stored: StoredEvent) -> dict[str, Any]:
    """The flat record of one stored event, with exactly the keys of :data:`RECORD_FIELDS`."""
    ev = stored.event

    def names(role: ActorRole) -> str | None:
        return _join(link.name for link in ev.actors if link.role is role)

    def victim_sum(attr: str) -> int | None:
        values = [getattr(v, attr) for v in ev.victims if getattr(v, attr) is not None]
        return sum(values) if values else None

    return {
        "uid": stored.uid,
        "dataset": ev.provenance.dataset,
        "dataset_version": ev.provenance.dataset_version,
        "original_id": ev.provenance.original_id,
        "date_start": ev.date_start,
        "date_end": ev.date_end,
        "date_precision": int(ev.date_precision),
        "country_iso3": ev.country_iso3,
        "country_name": ev.country_name,
        "admin1_pcode": ev.admin1_pcode,
        "admin1_name": ev.admin1_name,
        "admin2_pcode": ev.admin2_pcode,
        "admin2_name": ev.admin2_name,
        "place_name": ev.place_name,
        "latitude": ev.latitude,
        "longitude": ev.longitude,
        "location_precision": None if ev.location_precision is None else int(ev.location_precision),
        "priogrid_gid": ev.priogrid_gid,
        "violence_type": _value(ev.violence_type),
        "threat_category": _value(ev.threat_category),
        "act_types": _join(a.value for a in ev.act_types),
        "title": ev.title,
        "description": ev.description,
        "perpetrators": names(ActorRole.PERPETRATOR),
        "side_a": names(ActorRole.SIDE_A),
        "side_b": names(ActorRole.SIDE_B),
        "targets": names(ActorRole.TARGET),
        "fatalities_best": ev.fatalities_best,
        "fatalities_low": ev.fatalities_low,
        "fatalities_high": ev.fatalities_high,
        "civilian_fatalities": ev.civilian_fatalities,
        "victims_total": victim_sum("count"),
        "victims_female": victim_sum("female"),
        "victims_male": victim_sum("male"),
        "victims_children": victim_sum("children"),
        "victims_adults": victim_sum("adults"),
        "victim_groups": _join(v.description for v in ev.victims),
        "sources": _join(src.name for src in ev.sources),
        "source_grades": _join(
            format_grade(src.reliability, src.credibility) for src in ev.sources
        ),
        "sensitivity": ev.sensitivity.value,
        "case_class": ev.case_class.value,
        "updated_at": stored.updated_at,
    }


def _join(values: Iterable[str]) -> str | None:
    items = list(values)
    return MULTI_SEPARATOR.join(items) if items else None


def _value(member: Enum | None) -> str | None:
    return None if member is None else member.value


# --- CSV injection ------------------------------------------------------------------------


def _is_formula_like(text: str) -> bool:
    return bool(text) and text[0] in _FORMULA_START and not _PLAIN_NUMBER.match(text)


def escape_cell(text: str) -> str:
    """OWASP CSV-injection escape for one text cell; reversible with :func:`unescape_cell`."""
    if _is_formula_like(text) or (text.startswith("'") and _is_formula_like(text.lstrip("'"))):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """Undoes :func:`escape_cell` (for importers of files written here)."""
    if text.startswith("'") and _is_formula_like(text.lstrip("'")):
        return text[1:]
    return text


# --- writers ------------------------------------------------------------------------------


def _columns(
    records: Iterable[Record], fields: Sequence[str] | None
) -> tuple[list[str], Iterator[Record]]:
    """The column set, and the records (the first one is peeked at, never lost)."""
    stream = iter(records)
    if fields is not None:
        columns = list(fields)
    else:
        first = next(stream, None)
        if first is None:
            return [], iter(())
        columns = list(first.keys())
        stream = itertools.chain([first], stream)
    if len(set(columns)) != len(columns):
        raise ExportError("duplicate field names in the column set")
    return columns, stream


def _checked_row(record: Record, columns: list[str], allowed: frozenset[str]) -> list[str]:
    extra = record.keys() - allowed
    if extra:
        raise ExportError(
            f"record has fields outside the column set: {', '.join(sorted(map(str, extra)))}"
        )
    return [_cell(record.get(name)) for name in columns]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExportError(f"cannot export the non-finite number {value!r}")
        return repr(value)  # shortest text that reads back as the same float
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return escape_cell(str(value.value))
    if isinstance(value, str):
        return escape_cell(value)
    raise ExportError(f"cannot export a value of type {type(value).__name__}")


def write_csv(
    records: Iterable[Record], out: TextIO, *, fields: Sequence[str] | None = None
) -> int:
    """RFC 4180 CSV with a header row; returns the number of records written.

    ``out`` should be opened with ``newline=""`` (the writer emits CRLF itself).
    """
    columns, stream = _columns(records, fields)
    if not columns:
        return 0
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([escape_cell(c) for c in columns])
    return _write_rows(writer, stream, columns)


def write_hxl(
    records: Iterable[Record], out: TextIO, *, fields: Sequence[str] | None = None
) -> int:
    """CSV with a second header row of HXL hashtags (see the module docstring)."""
    columns, stream = _columns(records, fields)
    if not columns:
        return 0
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([escape_cell(c) for c in columns])
    writer.writerow([HXL_TAGS.get(c, "") for c in columns])
    return _write_rows(writer, stream, columns)


def _write_rows(writer: Any, stream: Iterator[Record], columns: list[str]) -> int:
    allowed = frozenset(columns)
    n = 0
    for record in stream:
        writer.writerow(_checked_row(record, columns, allowed))
        n += 1
    return n


def write_geojson(
    records: Iterable[Record], out: TextIO, *, fields: Sequence[str] | None = None
) -> int:
    """An RFC 7946 FeatureCollection of Point features, one per line.

    The geometry is ``[longitude, latitude]`` when the record has both, else ``null`` (an
    event without coordinates, or whose coordinates were redacted). ``properties`` is the
    record itself (restricted to ``fields`` when given).
    """
    allowed = None if fields is None else frozenset(fields)
    out.write('{"type":"FeatureCollection","features":[')
    n = 0
    for record in records:
        if allowed is not None:
            extra = record.keys() - allowed
            if extra:
                raise ExportError(
                    "record has fields outside the column set: "
                    + ", ".join(sorted(map(str, extra)))
                )
        feature: dict[str, Any] = {"type": "Feature"}
        if record.get("uid") is not None:
            feature["id"] = record["uid"]
        feature["geometry"] = _point(record)
        feature["properties"] = {k: _json_value(v) for k, v in record.items()}
        text = json.dumps(feature, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        out.write(("\n," if n else "\n") + text)
        n += 1
    out.write("\n]}\n")
    return n


def _point(record: Record) -> dict[str, Any] | None:
    lat, lon = record.get("latitude"), record.get("longitude")
    if lat is None or lon is None:
        return None
    for value in (lat, lon):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExportError("latitude and longitude must be numbers to build a geometry")
        if not math.isfinite(value):
            raise ExportError(f"cannot export the non-finite coordinate {value!r}")
    return {"type": "Point", "coordinates": [float(lon), float(lat)]}  # RFC 7946: lon, lat


def _json_value(value: object) -> object:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExportError(f"cannot export the non-finite number {value!r}")
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise ExportError(f"cannot export a value of type {type(value).__name__}")


Writer = Callable[..., int]

WRITERS: dict[str, Writer] = {"csv": write_csv, "geojson": write_geojson, "hxl": write_hxl}
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "hxl": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
}
