"""What every format adapter yields, and the error that stops a whole file.

An adapter turns a stream into a sequence of :class:`Parsed` rows (an event, possibly with
warnings about things it repaired) and :class:`Rejected` rows (a row it could not turn into an
event). Anything that makes the *file* unusable (unreadable, wrong encoding, truncated, wrong
columns, malformed JSON) raises :class:`FatalImportError`; the runner then rolls the whole
file back.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from tocsin.domain.entities import TOCSIN_NAMESPACE, Event
from tocsin.geo.prio_grid import gid_for_point

# A row as it came in: CSV fields, a JSON object, or text. Rendered only when a row is stored
# in import_problems, so the common path does not pay for it.
RawRow = Sequence[str] | Mapping[str, object] | str | None


class FatalImportError(Exception):
    """The file as a whole cannot be imported; nothing from it may be stored."""


@dataclass(slots=True)
class Parsed:
    line: int
    event: Event
    raw: RawRow = None
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Rejected:
    line: int
    reason: str
    raw: RawRow = None


Record = Parsed | Rejected


class FormatReader(ABC):
    """Reads one open file. Construction reads and checks the header (or first bytes)."""

    format_name: ClassVar[str]

    #: the dataset the events belong to; (dataset, original id) is unique in the store
    dataset: str

    @abstractmethod
    def __iter__(self) -> Iterator[Record]: ...


_NAMESPACE_BYTES = TOCSIN_NAMESPACE.bytes


def fast_stable_uid(dataset: str, original_id: str) -> str:
    """Same value as ``entities.stable_uid`` (a UUID5), without building ``uuid.UUID``
    objects, which cost more than parsing a row; tests check that both agree."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + f"{dataset}:{original_id}".encode()).digest()[:16]  # noqa: S324 - UUID5 is SHA-1 by definition
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def grid_of(lat: float | None, lon: float | None) -> int | None:
    """PRIO-GRID cell of a valid point; None when a coordinate is missing or out of range
    (the row is then rejected by the domain check anyway)."""
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return gid_for_point(lat, lon)


def render_raw(raw: RawRow) -> str | None:
    """The raw row as text for ``import_problems.raw``: CSV stays CSV, JSON stays JSON."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    if isinstance(raw, Mapping):
        return json.dumps(raw, ensure_ascii=False, default=str)
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(raw)
    return out.getvalue()


def parse_int(text: object, what: str) -> int | None:
    """Integer from '12', '12.0' or 12; None for empty; ValueError naming the field otherwise."""
    if type(text) is str:  # the common case first: a CSV cell holding an integer
        try:
            return int(text)
        except ValueError:
            pass
    if text is None:
        return None
    if isinstance(text, bool):
        raise ValueError(f"{what}: expected a number, got {text!r}")
    if isinstance(text, int):
        return text
    if isinstance(text, float):
        if text != text or not text.is_integer():  # NaN or fractional
            raise ValueError(f"{what}: expected a whole number, got {text!r}")
        return int(text)
    value = str(text).strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what}: expected a number, got {value[:40]!r}") from None
    if not number.is_integer():
        raise ValueError(f"{what}: expected a whole number, got {value[:40]!r}")
    return int(number)


def parse_float(text: object, what: str) -> float | None:
    if type(text) is str:
        try:
            value = float(text)
        except ValueError:
            pass
        else:
            if value - value == 0:  # finite (inf - inf and nan - nan are nan)
                return value
    if text is None:
        return None
    if isinstance(text, bool):
        raise ValueError(f"{what}: expected a number, got {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        stripped = str(text).strip()
        if not stripped:
            return None
        try:
            value = float(stripped)
        except ValueError:
            raise ValueError(f"{what}: expected a number, got {stripped[:40]!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{what}: {value} is not a finite number")
    return value


def parse_iso_date(text: object, what: str) -> date:
    """A date from '2009-02-20', '2009-02-20T00:00:00' or '2001-01-04 00:00:00.000'."""
    value = str(text or "").strip()
    if not value:
        raise ValueError(f"{what} is empty")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError(f"{what}: {value[:40]!r} is not a date (YYYY-MM-DD)") from None


def clean_text(text: object) -> str | None:
    """Stripped text, or None for empty. Free text is otherwise kept verbatim (no escaping on
    the way in: CSV-injection defusing is the export's job, so the stored record stays true)."""
    if text is None:
        return None
    value = str(text).strip()
    return value or None
