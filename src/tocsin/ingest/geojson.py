"""GeoJSON FeatureCollection of Point features whose properties are flat event records.

The property names are those of Tocsin's own export (``tocsin.store.export.RECORD_FIELDS``,
mapped to events by :mod:`tocsin.ingest.flat`). The geometry gives the coordinates (RFC 7946
order: longitude, latitude); a ``null`` geometry is an event without coordinates. Any other
geometry type is a rejected row: the store keeps points only.

Streaming: features are read one at a time with ijson, so the file size does not matter.
Record numbers (``line`` in reports) are the 1-based positions in ``features``. Malformed or
truncated JSON is fatal; a FeatureCollection without ``features`` is fatal too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import ijson

from tocsin.ingest.base import FatalImportError, FormatReader, Parsed, Record, Rejected
from tocsin.ingest.flat import record_to_event

PREFIX = "geojson"


class GeoJsonReader(FormatReader):
    format_name = "geojson"

    def __init__(self, stream: BinaryIO, path: Path, dataset_version: str | None) -> None:
        self._stream = stream
        self._version = dataset_version
        self.dataset = f"{PREFIX}:{path.stem}"[:64]

    def __iter__(self) -> Iterator[Record]:
        seen_any = False
        try:
            # use_float: plain floats for coordinates, not Decimal.
            for n, feature in enumerate(
                ijson.items(self._stream, "features.item", use_float=True), start=1
            ):
                seen_any = True
                yield self._convert(n, feature)
        except ijson.JSONError as exc:
            raise FatalImportError(f"malformed or truncated JSON: {exc}") from exc
        if not seen_any:
            raise FatalImportError(
                "not a GeoJSON FeatureCollection with features: no 'features' array found"
            )

    def _convert(self, n: int, feature: object) -> Record:
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            return Rejected(n, "not a GeoJSON Feature object", _safe(feature))
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            return Rejected(n, "properties is not an object", feature)
        record = dict(props)
        geometry = feature.get("geometry")
        if geometry is not None:
            if not isinstance(geometry, dict) or geometry.get("type") != "Point":
                kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry)
                return Rejected(n, f"geometry {kind!s} is not a Point", feature)
            coords = geometry.get("coordinates")
            if not isinstance(coords, list) or len(coords) < 2:
                return Rejected(n, "Point coordinates must be [longitude, latitude]", feature)
            record["longitude"], record["latitude"] = coords[0], coords[1]
        else:
            record["longitude"] = record["latitude"] = None
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
            return Rejected(n, str(exc), feature)
        return Parsed(n, event, feature, warnings)


def _safe(value: object) -> object:
    return value if isinstance(value, dict | str) else repr(value)[:2000]
