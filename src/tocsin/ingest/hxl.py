"""HXL-tagged CSV (Humanitarian Exchange Language), read with libhxl.

libhxl finds the hashtag row and parses the hashtags; rows come from our own streaming CSV
reader (so encoding detection, truncation checks and line numbers are the same as for the
other CSV formats). Each data row is one incident, mapped to the flat record of
:mod:`tocsin.ingest.flat`:

1. columns whose hashtag is *exactly* one of Tocsin's export tags (``tocsin.store.export``:
   ``#event+id``, ``#date+start``, ``#geo+lat``, ``#affected+killed``, ``#group+perp`` ...)
   map to that field;
2. for fields still unmapped, common HXL spellings are accepted: ``#event+code`` for the id,
   any ``#date`` for the start date, ``#affected+killed`` with other attributes (but not
   ``+min``/``+max``/``+civilians``) for fatalities, ``#org+perp`` / ``#group+perp`` /
   ``#org+perpetrator`` for perpetrators, ``#event+type`` (a violence type or an ACLED
   event/sub-event type) for the type, ``#meta+source`` / ``#org+source`` for sources,
   ``#event+description`` for the description.

A file without an incident id column is refused with a clear error. In particular, IOM DTM
files are HXL but hold displacement *figures* per admin area and round (``#affected+idps``),
not incidents: they are refused with an explanation rather than turned into fake events.

Tocsin's own HXL export escapes spreadsheet formulas (a leading ``'``); when the file carries
Tocsin's ``#event+uid`` column, cells are un-escaped on the way in so a round trip is exact.
Dataset: ``hxl:<dataset named in #meta+dataset>``, or ``hxl:<file stem>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import hxl
import hxl.input

from tocsin.ingest.acled import classify_event_type
from tocsin.ingest.base import FatalImportError, FormatReader, Parsed, Record, Rejected
from tocsin.ingest.csvsource import CsvRows
from tocsin.ingest.flat import record_to_event
from tocsin.store.export import HXL_TAGS, unescape_cell

PREFIX = "hxl"

_EXACT: dict[tuple[str, frozenset[str]], str] = {}
for _field, _tag in HXL_TAGS.items():
    _parts = _tag.lstrip("#").split("+")
    _EXACT[("#" + _parts[0], frozenset(_parts[1:]))] = _field

# (field, tag, attributes required, attributes excluded), tried in order for unmapped fields
_FALLBACKS: tuple[tuple[str, str, frozenset[str], frozenset[str]], ...] = (
    ("original_id", "#event", frozenset({"code"}), frozenset()),
    ("original_id", "#incident", frozenset({"id"}), frozenset()),
    ("original_id", "#incident", frozenset({"code"}), frozenset()),
    ("date_start", "#date", frozenset({"occurred"}), frozenset()),
    ("date_start", "#date", frozenset(), frozenset({"end", "reported", "updated"})),
    ("date_end", "#date", frozenset({"end"}), frozenset()),
    ("fatalities_best", "#affected", frozenset({"killed"}), frozenset({"min", "max", "civilians"})),
    ("fatalities_best", "#affected", frozenset({"dead"}), frozenset({"min", "max"})),
    ("civilian_fatalities", "#affected", frozenset({"killed", "civilians"}), frozenset()),
    ("perpetrators", "#org", frozenset({"perp"}), frozenset()),
    ("perpetrators", "#org", frozenset({"perpetrator"}), frozenset()),
    ("perpetrators", "#group", frozenset({"perpetrator"}), frozenset()),
    ("targets", "#group", frozenset({"victim"}), frozenset()),
    ("event_type", "#event", frozenset({"type"}), frozenset({"violence", "threat", "acts"})),
    ("sources", "#meta", frozenset({"source"}), frozenset({"grade"})),
    ("sources", "#org", frozenset({"source"}), frozenset()),
    ("description", "#event", frozenset({"description"}), frozenset()),
    ("place_name", "#loc", frozenset(), frozenset()),
    ("country_iso3", "#country", frozenset({"code"}), frozenset()),
    ("country_name", "#country", frozenset({"name"}), frozenset()),
)

_DTM_TAGS = {"#affected+idps", "#affected+returnees", "#population+idps"}


def is_hashtag_row(row: list[str]) -> bool:
    cells = [c.strip() for c in row if c.strip()]
    tags = [c for c in cells if c.startswith("#")]
    return bool(cells) and len(tags) * 2 > len(cells)


class _RowsInput(hxl.input.AbstractInput):  # type: ignore[misc]
    """Feeds libhxl from our CSV reader and remembers each record's line number."""

    def __init__(self, rows: CsvRows) -> None:
        super().__init__(input_options=None)
        self._rows = rows
        self.header = rows.header
        self.lines: dict[int, int] = {0: 1}  # source row number (0 = first row) -> line

    def __iter__(self) -> Iterator[list[str]]:
        yield self.header
        for n, (line, fields) in enumerate(self._rows, start=1):
            self.lines[n] = line
            yield fields


class HxlReader(FormatReader):
    format_name = "hxl"

    def __init__(self, text: TextIO, path: Path, dataset_version: str | None) -> None:
        self._version = dataset_version
        self._input = _RowsInput(CsvRows(text, lower=False))
        try:
            self._data = hxl.data(self._input)
            columns = self._data.columns
        except hxl.HXLException as exc:
            raise FatalImportError(f"not HXL-tagged data: {getattr(exc, 'message', exc)}") from exc
        if not columns or not any(c.tag for c in columns):
            raise FatalImportError("no HXL hashtag row found in the first rows")
        self._mapping = _map_columns(columns)
        tags = {c.get_display_tag(sort_attributes=True) for c in columns if c.tag}
        if "original_id" not in self._mapping:
            if tags & _DTM_TAGS:
                raise FatalImportError(
                    "this HXL file holds displacement figures (#affected+idps per admin area "
                    "and round, e.g. IOM DTM), not incident records; Tocsin imports incidents "
                    "(one row per event, with an #event+id column)"
                )
            raise FatalImportError(
                "this HXL file has no incident id column (#event+id or #event+code); "
                "Tocsin imports incident records, one row per event"
            )
        if "date_start" not in self._mapping:
            raise FatalImportError("this HXL file has no date column (#date or #date+start)")
        self._unescape = any(f == "uid" for f in self._mapping)
        self.dataset = f"{PREFIX}:{path.stem}"[:64]

    def __iter__(self) -> Iterator[Record]:
        lines = self._input.lines
        try:
            for row in self._data:
                line = lines.pop(row.source_row_number, row.source_row_number + 1)
                values = list(row.values)
                record: dict[str, object] = {}
                for field, index in self._mapping.items():
                    if index < len(values):
                        value = values[index]
                        if self._unescape and isinstance(value, str):
                            value = unescape_cell(value)
                        record[field] = value
                yield self._convert(line, record, values)
        except hxl.HXLException as exc:
            raise FatalImportError(f"HXL error: {getattr(exc, 'message', exc)}") from exc

    def _convert(self, line: int, record: dict[str, object], raw: list[str]) -> Record:
        event_type = record.pop("event_type", None)
        if event_type and not record.get("violence_type"):
            violence, acts, threat = classify_event_type(str(event_type), record)
            record["violence_type"] = violence
            if acts and not record.get("act_types"):
                record["act_types"] = ";".join(acts)
            if threat and not record.get("threat_category"):
                record["threat_category"] = threat
            if not record.get("title"):
                record["title"] = str(event_type)
        warnings: list[str] = []
        try:
            event = record_to_event(
                record,
                prefix=PREFIX,
                default_dataset=self.dataset,
                dataset_version=self._version,
                warnings=warnings,
            )
        except ValueError as exc:
            return Rejected(line, str(exc), raw)
        return Parsed(line, event, raw, warnings)


def _map_columns(columns: list) -> dict[str, int]:  # type: ignore[type-arg]
    mapping: dict[str, int] = {}
    parsed = [
        (i, c.tag.lower() if c.tag else None, frozenset(a.lower() for a in c.attributes))
        for i, c in enumerate(columns)
    ]
    for i, tag, attrs in parsed:
        field = _EXACT.get((tag, attrs)) if tag else None
        if field and field not in mapping:
            mapping[field] = i
    for field, tag, required, excluded in _FALLBACKS:
        if field in mapping:
            continue
        for i, col_tag, attrs in parsed:
            taken = i in mapping.values()
            if col_tag == tag and required <= attrs and not (excluded & attrs) and not taken:
                mapping[field] = i
                break
    return mapping
