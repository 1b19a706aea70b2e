"""The gazetteer loader: OCHA's global admin-1/admin-2 P-code list into ``places``.

Input: the HXL-tagged CSV ``global_pcodes_adm1_adm2.csv`` (``Location, Admin Level, P-Code,
Name, Parent P-Code, Valid from date`` with the hashtags ``#country+code, #geo+admin_level,
#adm+code, #adm+name, #adm+code+parent, #date+start``). Columns are found by hashtag with
libhxl, so a file with reordered or extra columns loads the same.

Each row becomes one place keyed by its P-code; its name is also stored in ``place_names``
(normalised, for name lookups). The load is one transaction and idempotent: a place whose
name, country, level or parent changed is updated, an identical one is left alone. Rows
without a P-code or name, with an admin level other than 1-5, or with a country code that is
not three letters are rejected and kept in ``import_problems`` with their line numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import hxl
from sqlalchemy import Engine, bindparam, insert, select, update

from tocsin.domain.entities import stable_uid
from tocsin.ingest.base import FatalImportError, clean_text, render_raw
from tocsin.ingest.csvsource import CsvRows
from tocsin.ingest.hxl import _RowsInput
from tocsin.ingest.textio import CountingReader, detect_encoding, open_text, peek
from tocsin.store import schema as s
from tocsin.store.event_writer import WriteCounts
from tocsin.store.import_runs import Problem, finish_run, record_problems, start_run
from tocsin.store.names import normalize_name

DATASET = "ocha_pcodes"
_COLUMNS = {
    "country": ("#country", frozenset({"code"})),
    "level": ("#geo", frozenset({"admin_level"})),
    "pcode": ("#adm", frozenset({"code"})),
    "name": ("#adm", frozenset({"name"})),
    "parent": ("#adm", frozenset({"code", "parent"})),
}
MAX_REPORTED_ERRORS = 1000


@dataclass(slots=True)
class GazetteerReport:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "read": self.read,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": list(self.errors),
        }


def import_pcodes(
    engine: Engine, path: str | Path, *, progress: Callable[[int, int], None] | None = None
) -> GazetteerReport:
    path = Path(path)
    if not path.is_file():
        raise FatalImportError(f"no such file: {path}")
    encoding, _ = detect_encoding(peek(path))
    raw = CountingReader(path)
    report = GazetteerReport()
    try:
        rows_input = _RowsInput(CsvRows(open_text(raw, encoding), lower=False))
        try:
            data = hxl.data(rows_input)
            columns = data.columns
        except hxl.HXLException as exc:
            raise FatalImportError(
                f"not an OCHA P-code list: {getattr(exc, 'message', exc)}"
            ) from exc
        index = _column_index(columns)
        with engine.begin() as conn:
            run_id = start_run(
                conn,
                dataset=DATASET,
                dataset_version=None,
                fmt="hxl",
                source_name=path.name,
                source_sha256="",
            )
            existing = {
                r.pcode: r
                for r in conn.execute(
                    select(
                        s.places.c.id,
                        s.places.c.pcode,
                        s.places.c.name,
                        s.places.c.country_iso3,
                        s.places.c.admin_level,
                        s.places.c.parent_pcode,
                    ).where(s.places.c.pcode.is_not(None))
                )
            }
            problems: list[Problem] = []
            new: list[dict[str, object]] = []
            changed: list[dict[str, object]] = []
            seen: set[str] = set()
            try:
                for row in data:
                    line = rows_input.lines.pop(row.source_row_number, row.source_row_number + 1)
                    report.read += 1
                    values = list(row.values)
                    try:
                        place = _place(values, index)
                    except ValueError as exc:
                        _reject(report, problems, line, str(exc), values)
                        continue
                    if place["pcode"] in seen:
                        _reject(report, problems, line, f"P-code {place['pcode']} repeated", values)
                        continue
                    seen.add(str(place["pcode"]))
                    hit = existing.get(place["pcode"])
                    if hit is None:
                        new.append(place)
                    elif (hit.name, hit.country_iso3, hit.admin_level, hit.parent_pcode) != (
                        place["name"],
                        place["country_iso3"],
                        place["admin_level"],
                        place["parent_pcode"],
                    ):
                        changed.append({**place, "b_id": hit.id})
                    else:
                        report.unchanged += 1
                    if progress is not None and report.read % 5000 == 0:
                        progress(raw.bytes_read, raw.total)
            except hxl.HXLException as exc:
                raise FatalImportError(f"HXL error: {exc}") from exc
            _write(conn, new, changed)
            report.inserted, report.updated = len(new), len(changed)
            record_problems(conn, run_id, problems)
            raw.read_to_end()
            conn.execute(
                update(s.import_runs)
                .where(s.import_runs.c.id == run_id)
                .values(source_sha256=raw.sha256)
            )
            finish_run(
                conn,
                run_id,
                read=report.read,
                counts=WriteCounts(report.inserted, report.updated, report.unchanged),
                rejected=report.rejected,
            )
    except UnicodeDecodeError as exc:
        raise FatalImportError(f"the text is not valid {encoding}: {exc.reason}") from exc
    finally:
        raw.dispose()
    if progress is not None:
        progress(raw.total, raw.total)
    return report


def _column_index(columns: list) -> dict[str, int]:  # type: ignore[type-arg]
    found: dict[str, int] = {}
    for key, (tag, attrs) in _COLUMNS.items():
        for i, col in enumerate(columns):
            if (
                col.tag
                and col.tag.lower() == tag
                and frozenset(a.lower() for a in col.attributes) == attrs
            ):
                found[key] = i
                break
    missing = [
        _COLUMNS[k][0] + "+" + "+".join(sorted(_COLUMNS[k][1]))
        for k in _COLUMNS
        if k not in found and k != "parent"
    ]
    if missing:
        raise FatalImportError(
            "not an OCHA P-code list: missing hashtag column(s) " + ", ".join(missing)
        )
    return found


def _place(values: list[str], index: dict[str, int]) -> dict[str, object]:
    def get(key: str) -> str | None:
        i = index.get(key)
        return clean_text(values[i]) if i is not None and i < len(values) else None

    pcode, name, country = get("pcode"), get("name"), get("country")
    pcode = pcode.upper() if pcode else pcode  # OCHA convention; queries rely on it
    parent = get("parent")
    if not pcode:
        raise ValueError("P-code is empty")
    if len(pcode) > 32:
        raise ValueError(f"P-code {pcode[:40]!r} is longer than 32 characters")
    if not name:
        raise ValueError(f"name of {pcode} is empty")
    if not country or len(country) != 3 or not country.isalpha():
        raise ValueError(f"country code {country!r} is not ISO3")
    try:
        level = int(get("level") or "")
    except ValueError:
        raise ValueError(f"admin level {get('level')!r} is not a number") from None
    if not 1 <= level <= 5:
        raise ValueError(f"admin level {level} is not 1-5")
    return {
        "pcode": pcode,
        "name": name[:255],
        "normalized_name": normalize_name(name)[:255],
        "country_iso3": country.upper(),
        "admin_level": level,
        "parent_pcode": parent.upper() if parent else None,
    }


def _reject(
    report: GazetteerReport, problems: list[Problem], line: int, reason: str, values: list[str]
) -> None:
    report.rejected += 1
    if len(report.errors) < MAX_REPORTED_ERRORS:
        report.errors.append({"line": line, "reason": reason})
    problems.append(Problem(line, reason, "rejected", render_raw(values)))


def _write(conn, new: list[dict[str, object]], changed: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    if new:
        rows = [
            {**p, "uid": stable_uid("place", str(p["pcode"])), "latitude": None, "longitude": None}
            for p in new
        ]
        for i in range(0, len(rows), 5000):
            conn.execute(insert(s.places), rows[i : i + 5000])
    if changed:
        conn.execute(
            update(s.places)
            .where(s.places.c.id == bindparam("b_id"))
            .values(
                name=bindparam("b_name"),
                normalized_name=bindparam("b_normalized_name"),
                country_iso3=bindparam("b_country_iso3"),
                admin_level=bindparam("b_admin_level"),
                parent_pcode=bindparam("b_parent_pcode"),
            ),
            [
                {("b_" + k if k != "b_id" else k): v for k, v in p.items() if k != "pcode"}
                for p in changed
            ],
        )
    touched = {str(p["pcode"]): p for p in new + changed}
    if not touched:
        return
    # place_names keeps every name a place has had (a renamed place stays findable by its
    # former name), so names are only ever added here.
    ids: dict[str, int] = {}
    for chunk in _chunks(list(touched), 900):
        ids.update(
            conn.execute(
                select(s.places.c.pcode, s.places.c.id).where(s.places.c.pcode.in_(chunk))
            ).all()
        )
    known: set[tuple[int, str]] = set()
    for chunk in _chunks(list(ids.values()), 900):
        known.update(
            conn.execute(
                select(s.place_names.c.place_id, s.place_names.c.normalized_name).where(
                    s.place_names.c.place_id.in_(chunk)
                )
            ).all()
        )
    names = [
        {"place_id": ids[pcode], "name": p["name"], "normalized_name": p["normalized_name"]}
        for pcode, p in touched.items()
        if (ids[pcode], p["normalized_name"]) not in known
    ]
    for i in range(0, len(names), 5000):
        conn.execute(insert(s.place_names), names[i : i + 5000])


def _chunks(items: list, size: int) -> list[list]:  # type: ignore[type-arg]
    return [items[i : i + size] for i in range(0, len(items), size)]
