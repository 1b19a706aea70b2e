"""The format registry: auto-detection from a file's first bytes, and opening a reader.

Detection looks at the first 64 KiB, decoded with the file's encoding:

- JSON starting with ``{`` and naming a ``FeatureCollection`` -> ``geojson``;
- a JSON array whose first record has an Insecurity Insight ``SiND``/``SIND`` id ->
  ``insecurity_insight``;
- CSV whose header has ``event_id_cnty`` and ``event_date`` -> ``acled``;
- CSV whose header has ``id``, ``type_of_violence`` and ``date_start`` (or
  ``type_of_violence_code``) -> ``ucdp``;
- CSV with a row of HXL hashtags in its first five rows -> ``hxl``.

Anything else is a fatal error that names the formats and suggests ``--format``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

from tocsin.ingest import ucdp
from tocsin.ingest.base import FatalImportError, FormatReader
from tocsin.ingest.csvsource import CsvRows
from tocsin.ingest.textio import CountingReader, Utf8Recoder, detect_encoding, open_text, peek

FORMAT_NAMES: tuple[str, ...] = ("ucdp", "acled", "insecurity_insight", "hxl", "geojson")

_II_ID = re.compile(r'"\s*S[Ii]ND (Event )?ID"\s*:')


def detect(path: Path) -> str:
    sample = peek(path)
    if not sample.strip():
        raise FatalImportError(f"{path.name} is empty")
    encoding, _ = detect_encoding(sample)
    head = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    head = head.lstrip("\ufeff \t\r\n")
    if head.startswith("{"):
        if '"FeatureCollection"' in head[:4096] or '"features"' in head[:4096]:
            return "geojson"
        raise FatalImportError(f"{path.name} is a JSON object but not a GeoJSON FeatureCollection")
    if head.startswith("["):
        if _II_ID.search(head) or '"Geo Precision"' in head:
            return "insecurity_insight"
        raise FatalImportError(
            f"{path.name} is a JSON array but not Insecurity Insight incident records "
            "(no 'SiND Event ID' key); use --format if you are sure"
        )
    rows = _first_rows(head)
    if rows:
        header = [c.strip().lower() for c in rows[0]]
        if "event_id_cnty" in header and "event_date" in header:
            return "acled"
        if ucdp.looks_like(header):
            return "ucdp"
        if any(_is_hashtag_row(r) for r in rows[:5]):
            return "hxl"
    raise FatalImportError(
        f"cannot tell the format of {path.name}: it is not UCDP GED, ACLED, HXL-tagged CSV, "
        "Insecurity Insight JSON or GeoJSON; choose one with --format "
        f"({'|'.join(FORMAT_NAMES)})"
    )


def _is_hashtag_row(row: list[str]) -> bool:
    """HXL's rule of thumb: most non-empty cells of the row are hashtags."""
    cells = [c.strip() for c in row if c.strip()]
    tags = [c for c in cells if c.startswith("#")]
    return bool(cells) and len(tags) * 2 > len(cells)


def _first_rows(head: str) -> list[list[str]]:
    lines = head.splitlines()[:6][:-1] or head.splitlines()[:1]
    try:
        return list(csv.reader(io.StringIO("\n".join(lines))))
    except csv.Error:
        return []


def open_reader(
    fmt: str, raw: CountingReader, encoding: str, path: Path, dataset_version: str | None
) -> FormatReader:
    """A reader positioned after the header; raises FatalImportError for a wrong header."""
    if fmt in ("ucdp", "acled"):
        text = open_text(raw, encoding)
        rows = CsvRows(text)
        if fmt == "ucdp":
            version = dataset_version or ucdp.version_from_filename(path.name)
            reader: FormatReader = ucdp.UcdpReader(rows, version)
            reader.dataset_version = version  # type: ignore[attr-defined]
            return reader
        from tocsin.ingest import acled

        return acled.AcledReader(rows, dataset_version)
    if fmt == "hxl":
        from tocsin.ingest import hxl

        return hxl.HxlReader(open_text(raw, encoding), path, dataset_version)
    if fmt in ("insecurity_insight", "geojson"):
        # ijson reads UTF-8 bytes only; anything else (and a UTF-8 BOM) is recoded first.
        stream = raw if encoding == "utf-8" else Utf8Recoder(open_text(raw, encoding))
        if fmt == "geojson":
            from tocsin.ingest import geojson

            return geojson.GeoJsonReader(stream, path, dataset_version)
        from tocsin.ingest import insecurity_insight

        return insecurity_insight.InsecurityInsightReader(stream, path, dataset_version)
    raise FatalImportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMAT_NAMES)}")
