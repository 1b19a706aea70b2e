"""Reading files as streams: byte counting (progress, sha256) and text-encoding detection.

Encoding rule, applied to the first 64 KiB:

1. a byte-order mark decides (UTF-8, UTF-16 LE/BE, UTF-32);
2. otherwise valid UTF-8 is read as UTF-8;
3. otherwise UTF-16 without a BOM (recognised by charset-normalizer) is read as UTF-16;
4. otherwise, if every byte is defined in Windows-1252 (the superset of Latin-1 that
   spreadsheet exports use), the file is read as Windows-1252 and the import says so;
5. anything else is a fatal error asking for UTF-8: guessing among single-byte code pages
   would silently corrupt names.

If the sample is UTF-8 but a later byte is not, decoding fails mid-file; the runner turns that
into a fatal error (the file mixes encodings) and rolls back.
"""

from __future__ import annotations

import codecs
import hashlib
import io
from pathlib import Path
from typing import BinaryIO

from charset_normalizer import from_bytes

from tocsin.ingest.base import FatalImportError

SAMPLE_BYTES = 64 * 1024
READ_CHUNK = 1024 * 1024

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class CountingReader(io.RawIOBase):
    """A binary file that counts and hashes what has been read, and remembers the last byte
    (a file that does not end in a newline may have been cut short)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file: BinaryIO = path.open("rb")
        self.total = path.stat().st_size
        self.bytes_read = 0
        self.last_byte = b""
        self._sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        n = self._file.readinto(buffer)
        if n:
            view = memoryview(buffer)[:n]
            self._sha.update(view)
            self.bytes_read += n
            self.last_byte = bytes(view[-1:])
        return n or 0

    def read_to_end(self) -> None:
        """Read what the parser left unread, so the hash covers the whole file."""
        while self.read(READ_CHUNK):
            pass

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def close(self) -> None:
        # Text and buffer wrappers close their raw stream when they are garbage-collected;
        # the runner still needs it (to hash the rest), so only dispose() closes the file.
        pass

    def dispose(self) -> None:
        self._file.close()
        super().close()


def peek(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise FatalImportError(f"cannot read {path}: {exc.strerror or exc}") from exc


def detect_encoding(sample: bytes) -> tuple[str, str | None]:
    """(Python codec name, note for the user or None). Raises FatalImportError."""
    for bom, codec in _BOMS:
        if sample.startswith(bom):
            return codec, None if codec == "utf-8-sig" else f"file is {codec.upper()}; decoded"
    try:
        # Incremental so that a multi-byte character cut by the sample's end is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", None
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample).best()
    guessed = best.encoding if best is not None else None
    if guessed in {"utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"}:
        return guessed, f"file is {guessed.upper().replace('_', '-')} without a byte-order mark"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        raise FatalImportError(
            "the file is not UTF-8 and its encoding cannot be determined safely"
            + (f" (it may be {guessed})" if guessed else "")
            + "; convert it to UTF-8 and import again"
        ) from None
    return "cp1252", "file is not UTF-8; decoded as Windows-1252 (Latin-1)"


def open_text(raw: CountingReader, encoding: str) -> io.TextIOWrapper:
    """Text stream for the csv module (newline='' keeps quoted line breaks intact)."""
    buffered = io.BufferedReader(raw, buffer_size=READ_CHUNK)
    return io.TextIOWrapper(buffered, encoding=encoding, errors="strict", newline="")


class Utf8Recoder(io.RawIOBase):
    """Bytes in UTF-8 from a text stream, for parsers (ijson) that only read UTF-8."""

    def __init__(self, text: io.TextIOBase) -> None:
        super().__init__()
        self._text = text
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        want = len(buffer)
        while len(self._pending) < want:
            chunk = self._text.read(READ_CHUNK // 4)
            if not chunk:
                break
            self._pending += chunk.encode("utf-8")
        n = min(want, len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n
