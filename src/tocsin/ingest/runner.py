"""Import one file into the store: detect its format, stream it, write it in one transaction.

Rules (also in ``docs/ingest.md``):

- **One file, one transaction.** A fatal error (unreadable file, undecodable text, truncated
  file, wrong columns, malformed JSON, a mixed encoding found mid-file) raises
  :class:`FatalImportError`; the transaction is rolled back and the store is exactly as it
  was: no events, no actors, no import run.
- **Row problems are never dropped silently.** Each goes to ``import_problems`` with its line
  number (the physical line a CSV record starts on; the 1-based record number in a JSON array
  or FeatureCollection), its reason and the raw row:

  - *rejected* (quarantined, not imported): a row that cannot be read (bad number, bad date,
    unknown violence type, wrong field count, missing id) or that breaks a domain invariant
    (``Event.problems``: date before 1946 or in the future, end before start, coordinates out
    of range or only one of them, negative fatalities, a country code that is not 3 letters),
    and a repeated original id within the same file (the *first* row with an id is imported,
    so a re-import of the same file gives the same result);
  - *kept* (imported, with a warning): a row the adapter could repair without guessing, e.g.
    UCDP low/best/high estimates out of order (widened to min/max), an unknown country name
    (code left empty), a censored location (coordinates left empty).

- **Idempotent.** Events are keyed on (dataset, original id) and written by ``EventWriter``
  in batches of :data:`BATCH_SIZE`; an unchanged record is not touched, a changed one is
  updated in place.
- **Bounded memory.** Files are read as streams; at most one batch of events is held at a
  time, and repeated ids are detected through a temporary table, not an in-memory set.
- The summary's ``errors`` lists the first :data:`MAX_REPORTED_ERRORS` rejected rows;
  ``rejected`` has the total, and ``import_problems`` has them all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, text, update

from tocsin.domain.entities import Event
from tocsin.ingest import formats
from tocsin.ingest.base import FatalImportError, Parsed, Rejected, render_raw
from tocsin.ingest.textio import CountingReader, detect_encoding, peek
from tocsin.scenario.dataset import SCENARIO_DATASET, as_scenario_event, is_scenario_event
from tocsin.security import audit
from tocsin.store import schema as s
from tocsin.store.db import is_postgres
from tocsin.store.event_writer import EventWriter, WriteCounts
from tocsin.store.import_runs import Problem, finish_run, record_problems, start_run

BATCH_SIZE = 5000
MAX_REPORTED_ERRORS = 1000
PROBLEM_BATCH = 1000
_SEEN_TABLE = "tocsin_ingest_seen"

ProgressCallback = Callable[[int, int], None]  # (bytes read, total bytes)

__all__ = [
    "BATCH_SIZE",
    "MAX_REPORTED_ERRORS",
    "FatalImportError",
    "IngestReport",
    "detect_format",
    "ingest_file",
]


@dataclass(slots=True)
class IngestReport:
    path: str
    format: str
    dataset: str
    run_id: int | None = None
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The summary object of ``tocsin ingest --json``, with exactly these keys."""
        return {
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": list(self.errors),
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)


def detect_format(path: str | Path) -> str:
    """One of ``formats.FORMAT_NAMES``, from the file's first bytes. Raises FatalImportError."""
    return formats.detect(Path(path))


def ingest_file(
    engine: Engine,
    path: str | Path,
    fmt: str | None = None,
    *,
    dataset_version: str | None = None,
    progress: ProgressCallback | None = None,
    audit_actor: audit.Actor | None = None,
) -> IngestReport:
    """Import ``path`` in one transaction and return what happened.

    With ``audit_actor``, the import is recorded in the audit ledger in the same transaction
    (``import.file``, with the run id, file digest and counts), so there is no import without
    its ledger entry. The API records its own entry (it also knows the uploader's request);
    the command line and the demo pass ``Actor.cli()``.
    """
    path = Path(path)
    if not path.exists():
        raise FatalImportError(f"no such file: {path}")
    if not path.is_file():
        raise FatalImportError(f"not a file: {path}")
    if fmt is None:
        fmt = formats.detect(path)
    elif fmt not in formats.FORMAT_NAMES:
        raise FatalImportError(
            f"unknown format {fmt!r}; choose one of {', '.join(formats.FORMAT_NAMES)}"
        )
    encoding, note = detect_encoding(peek(path))
    today = max(date.today(), datetime.now(UTC).date())

    raw = CountingReader(path)
    try:
        with engine.begin() as conn:
            reader = formats.open_reader(fmt, raw, encoding, path, dataset_version)
            report = IngestReport(str(path), fmt, reader.dataset)
            if note:
                report.notes.append(note)
            run_id = start_run(
                conn,
                dataset=reader.dataset,
                dataset_version=dataset_version or getattr(reader, "dataset_version", None),
                fmt=fmt,
                source_name=path.name,
                source_sha256="",
            )
            report.run_id = run_id
            relabel = _ScenarioRelabel(_guarded(iter(reader), raw, encoding))
            _import(conn, run_id, iter(relabel), report, today, raw, progress)
            if relabel.all_synthetic:
                # The run is named after what it imported: a scenario file is not a UCDP import.
                report.dataset = SCENARIO_DATASET
                conn.execute(
                    update(s.import_runs)
                    .where(s.import_runs.c.id == run_id)
                    .values(dataset=SCENARIO_DATASET)
                )
            raw.read_to_end()
            conn.execute(
                update(s.import_runs)
                .where(s.import_runs.c.id == run_id)
                .values(source_sha256=raw.sha256)
            )
            counts = WriteCounts(report.inserted, report.updated, report.unchanged)
            finish_run(conn, run_id, read=report.read, counts=counts, rejected=report.rejected)
            if audit_actor is not None:
                audit.record(
                    conn,
                    audit_actor,
                    "import.file",
                    f"import_run:{run_id}",
                    {
                        "sha256": raw.sha256,
                        "format": report.format,
                        "dataset": report.dataset,
                        "read": report.read,
                        "inserted": report.inserted,
                        "updated": report.updated,
                        "rejected": report.rejected,
                    },
                )
            _drop_seen_table(conn)
    except UnicodeDecodeError as exc:  # in a header, before the row loop's own guard
        raise FatalImportError(
            f"the text is not valid {encoding} ({exc.reason}); the file is damaged"
        ) from exc
    except OSError as exc:
        raise FatalImportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    finally:
        raw.dispose()
    if progress is not None:
        progress(raw.total, raw.total)
    return report


def _guarded(records: Iterator, raw: CountingReader, encoding: str) -> Iterator:  # type: ignore[type-arg]
    """Turns a decoding failure deep inside a parser into a clear fatal error."""
    try:
        yield from records
    except UnicodeDecodeError as exc:
        raise FatalImportError(
            f"near byte {raw.bytes_read}: the text is not valid {encoding} ({exc.reason}); "
            "the file mixes encodings or is damaged"
        ) from exc


class _ScenarioRelabel:
    """Stores synthetic scenario rows (GED layout, marked by id range and source; see
    ``tocsin.scenario.dataset``) under their own dataset, never as real UCDP events."""

    def __init__(self, records: Iterator) -> None:  # type: ignore[type-arg]
        self._records = records
        self.synthetic = 0
        self.real = 0

    def __iter__(self) -> Iterator:  # type: ignore[type-arg]
        for record in self._records:
            if isinstance(record, Parsed):
                if is_scenario_event(record.event):
                    self.synthetic += 1
                    record.event = as_scenario_event(record.event)
                else:
                    self.real += 1
            yield record

    @property
    def all_synthetic(self) -> bool:
        return self.synthetic > 0 and self.real == 0


def _import(
    conn: Connection,
    run_id: int,
    records: Iterator,  # type: ignore[type-arg]
    report: IngestReport,
    today: date,
    raw: CountingReader,
    progress: ProgressCallback | None,
) -> None:
    writer = EventWriter(conn, run_id)
    seen = _SeenIds(conn)
    statistics = _PlannerStatistics(conn)
    batch: list[tuple[int, Event, object]] = []
    problems: list[Problem] = []

    def reject(line: int | None, reason: str, raw_row: object) -> None:
        report.rejected += 1
        if len(report.errors) < MAX_REPORTED_ERRORS:
            report.errors.append({"line": line, "reason": reason})
        problems.append(Problem(line, reason, "rejected", render_raw(raw_row)))  # type: ignore[arg-type]

    def flush() -> None:
        if batch:
            kept: list[Event] = []
            for line, event, raw_row, first_line in seen.filter(batch):
                if first_line is None:
                    kept.append(event)
                else:
                    reject(
                        line,
                        f"id {event.provenance.original_id!r} appears again (first at line "
                        f"{first_line}); the first row is kept",
                        raw_row,
                    )
            counts = writer.write(kept)
            report.inserted += counts.inserted
            report.updated += counts.updated
            report.unchanged += counts.unchanged
            batch.clear()
            statistics.grew(report.inserted + report.read)
        if problems:
            record_problems(conn, run_id, problems)
            problems.clear()
        if progress is not None:
            progress(raw.bytes_read, raw.total)

    for record in records:
        report.read += 1
        if isinstance(record, Rejected):
            reject(record.line, record.reason, record.raw)
        elif isinstance(record, Parsed):
            invalid = record.event.problems(today)
            if invalid:
                reject(record.line, "; ".join(invalid), record.raw)
                continue
            for warning in record.warnings:
                report.warnings += 1
                problems.append(Problem(record.line, warning, "kept", render_raw(record.raw)))
            batch.append((record.line, record.event, record.raw))
        if len(batch) >= BATCH_SIZE or len(problems) >= PROBLEM_BATCH:
            flush()
    flush()
    seen.close()


class _PlannerStatistics:
    """Keeps PostgreSQL's planner informed while one transaction grows the tables.

    Autovacuum cannot see rows of an open transaction, so during a large import the planner
    believes ``events`` (and the temporary id table) are as small as before and picks
    sequential scans for the per-batch id lookups: minutes instead of seconds on 150k rows.
    ANALYZE inside the transaction does count its own new rows; running it each time the
    tables have doubled costs a few calls per import. SQLite needs nothing of the kind.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._enabled = is_postgres(conn.engine)
        self._next = 2 * BATCH_SIZE

    def grew(self, rows_touched: int) -> None:
        if self._enabled and rows_touched >= self._next:
            self._conn.execute(text("ANALYZE events"))
            self._conn.execute(text(f"ANALYZE {_SEEN_TABLE}"))
            self._next = 2 * rows_touched


class _SeenIds:
    """(dataset, original id) -> first line, kept in a temporary table so memory stays flat
    however long the file is. Uses the driver's cursor directly: this runs once per row."""

    CHUNK = 900

    def __init__(self, conn: Connection) -> None:
        _drop_seen_table(conn)
        conn.execute(
            text(f"CREATE TEMPORARY TABLE {_SEEN_TABLE} (k VARCHAR(200) PRIMARY KEY, line INTEGER)")
        )
        self._mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        self._postgres = is_postgres(conn.engine)
        self._cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]

    def filter(
        self, batch: list[tuple[int, Event, object]]
    ) -> Iterator[tuple[int, Event, object, int | None]]:
        """Yields each row with the line where its id was first seen, or None if it is new."""
        keys = [_key(ev) for _, ev, _ in batch]
        earlier: dict[str, int] = {}
        cur = self._cursor
        for i in range(0, len(keys), self.CHUNK):
            chunk = keys[i : i + self.CHUNK]
            marks = ", ".join([self._mark] * len(chunk))
            # Only placeholders are interpolated; the keys themselves are bound.
            cur.execute(f"SELECT k, line FROM {_SEEN_TABLE} WHERE k IN ({marks})", chunk)  # noqa: S608
            earlier.update(cur.fetchall())
        fresh: list[tuple[str, int]] = []
        for (line, event, raw_row), key in zip(batch, keys, strict=True):
            first = earlier.get(key)
            if first is None:
                earlier[key] = line
                fresh.append((key, line))
            yield line, event, raw_row, first
        if fresh and self._postgres:
            with cur.copy(f"COPY {_SEEN_TABLE} (k, line) FROM STDIN") as copy:
                for row in fresh:
                    copy.write_row(row)
        elif fresh:
            cur.executemany(
                f"INSERT INTO {_SEEN_TABLE} (k, line) VALUES ({self._mark}, {self._mark})",  # noqa: S608
                fresh,
            )

    def close(self) -> None:
        self._cursor.close()


def _key(event: Event) -> str:
    return f"{event.provenance.dataset}\x1f{event.provenance.original_id}"


def _drop_seen_table(conn: Connection) -> None:
    # Schema-qualified, so that only the temporary table can ever be dropped here.
    schema = "pg_temp" if is_postgres(conn.engine) else "temp"
    conn.execute(text(f"DROP TABLE IF EXISTS {schema}.{_SEEN_TABLE}"))
