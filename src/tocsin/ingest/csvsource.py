"""Streaming CSV rows with the line number each record starts on.

Rules shared by the CSV adapters:

- the header is the first record; its names are stripped (and lower-cased where the adapter
  asks for it) and must be unique;
- a record with a different number of fields than the header is a row problem (rejected),
  except the *last* record of a file that does not end in a newline: that is a file cut short,
  which is fatal;
- an unterminated quoted field at the end of the file is likewise a truncated file (fatal);
- other broken quoting is fatal too, with its line number: after it, the CSV parser cannot
  know where records start, so nothing after it could be trusted.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from typing import TextIO

from tocsin.ingest.base import FatalImportError

# Free-text fields in UCDP's API layout run to tens of kilobytes; 16 MiB bounds a single field
# and a single physical line.
MAX_LINE_CHARS = 16 * 1024 * 1024
csv.field_size_limit(min(sys.maxsize, MAX_LINE_CHARS))


class CsvRows:
    """Iterates ``(line, fields)`` after reading the header; ``self.header`` holds the names."""

    def __init__(self, text: TextIO, *, lower: bool = True) -> None:
        self._last_line = ""
        self._reader = csv.reader(self._lines(text), strict=True)
        try:
            first = next(self._reader, None)
        except csv.Error as exc:
            raise FatalImportError(f"line 1: the header is not valid CSV ({exc})") from exc
        if not first or not any(cell.strip() for cell in first):
            raise FatalImportError("the file is empty: no header row")
        names = [c.strip().lstrip("\ufeff") for c in first]
        self.header = [n.lower() for n in names] if lower else names
        counts: dict[str, int] = {}
        for name in self.header:
            counts[name] = counts.get(name, 0) + 1
        dupes = sorted(n for n, k in counts.items() if k > 1 and n)
        if dupes:
            raise FatalImportError(f"the header names these columns twice: {', '.join(dupes)}")
        self.index = {name: i for i, name in enumerate(self.header) if name}
        self.width = len(self.header)

    def _lines(self, text: TextIO) -> Iterator[str]:
        # readline with a limit, so that a file without line breaks cannot make one line
        # the size of the file in memory.
        readline = text.readline
        while True:
            line = readline(MAX_LINE_CHARS)
            if not line:
                return
            if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
                raise FatalImportError(
                    f"line {self._reader.line_num + 1} is longer than {MAX_LINE_CHARS:,} "
                    "characters: this is not a CSV file, or it is damaged"
                )
            self._last_line = line
            yield line

    def require(self, columns: tuple[str, ...], what: str) -> None:
        missing = [c for c in columns if c not in self.index]
        if missing:
            raise FatalImportError(
                f"this is not a {what} file: missing column(s) {', '.join(missing)} "
                f"(found: {', '.join(self.header[:12])}{' ...' if self.width > 12 else ''})"
            )

    def _next(self) -> tuple[int, list[str]] | None:
        start = self._reader.line_num + 1
        try:
            return start, next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise FatalImportError(
                    f"line {start}: the file ends inside a quoted field: it is truncated"
                ) from exc
            raise FatalImportError(f"line {start}: malformed CSV ({exc})") from exc

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        width = self.width
        # One record of look-ahead: only the last record can be a cut one.
        current = self._next()
        while current is not None:
            following = self._next()
            line, fields = current
            if len(fields) != width:
                if not fields or fields == [""]:
                    current = following
                    continue  # blank line
                if following is None and not self._last_line.endswith(("\n", "\r")):
                    raise FatalImportError(
                        f"line {line}: the last row has {len(fields)} of {width} fields and "
                        "the file does not end with a newline: it is truncated"
                    )
            yield line, fields
            current = following
