"""``tocsin ingest`` and ``tocsin gazetteer``: load event files and the P-code gazetteer."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from tocsin.ingest.base import FatalImportError
from tocsin.ingest.formats import FORMAT_NAMES

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tocsin.security.audit import Actor

console = Console(stderr=True)

FORMAT_HELP = f"Input format ({'|'.join(FORMAT_NAMES)}); detected from the file when omitted."


def ingest(
    path: Path = typer.Argument(
        ...,
        help="File to import (UCDP GED CSV, ACLED CSV, Insecurity Insight JSON, HXL CSV, GeoJSON).",
        show_default=False,
    ),
    fmt: str | None = typer.Option(None, "--format", "-f", help=FORMAT_HELP),
    as_json: bool = typer.Option(
        False,
        "--json",
        help='Print only a JSON summary {"read", "inserted", "updated", "unchanged", '
        '"rejected", "errors": [{"line", "reason"}]}.',
    ),
    dataset_version: str | None = typer.Option(
        None, "--dataset-version", help="Version of the dataset (e.g. 23.1) kept with each event."
    ),
) -> None:
    """Import one file into the event store, in one transaction.

    Rows that cannot be imported are listed with their line numbers and kept in the store's
    import_problems table; a file with a fatal error (unreadable, truncated, wrong columns)
    changes nothing. Importing the same file again changes nothing.
    """
    from tocsin.ingest.runner import ingest_file
    from tocsin.security.audit import Actor
    from tocsin.store.db import make_engine

    if fmt is not None and fmt not in FORMAT_NAMES:
        _fail(f"unknown format {fmt!r}; choose one of {', '.join(FORMAT_NAMES)}", as_json)
    engine = make_engine()
    # Every import is in the audit ledger, as through the API: a successful one in its own
    # transaction (ingest_file), a failed one in a separate one, since the import rolled back.
    actor = Actor.cli()
    try:
        if as_json:
            report = ingest_file(
                engine, path, fmt, dataset_version=dataset_version, audit_actor=actor
            )
        else:
            with _progress() as progress:
                task = progress.add_task(path.name, total=None)

                def update(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                report = ingest_file(
                    engine,
                    path,
                    fmt,
                    dataset_version=dataset_version,
                    progress=update,
                    audit_actor=actor,
                )
    except FatalImportError as exc:
        _audit_failed(engine, actor, path, fmt)
        engine.dispose()
        _fail(f"{path}: {exc}. Nothing was imported.", as_json)
    except SQLAlchemyError as exc:
        engine.dispose()
        _fail(f"{path}: database error ({exc.__class__.__name__}). Nothing was imported.", as_json)
    engine.dispose()

    if as_json:
        sys.stdout.write(json.dumps(report.to_json(), ensure_ascii=False) + "\n")
        return
    out = Console()
    table = Table(title=f"{path.name} ({report.format}, dataset {report.dataset})")
    for col in ("read", "inserted", "updated", "unchanged", "rejected", "warnings"):
        table.add_column(col, justify="right")
    table.add_row(
        *(
            str(v)
            for v in (
                report.read,
                report.inserted,
                report.updated,
                report.unchanged,
                report.rejected,
                report.warnings,
            )
        )
    )
    out.print(table)
    for note in report.notes:
        out.print(f"[yellow]note:[/yellow] {note}")
    for err in report.errors[:10]:
        out.print(f"[red]line {err['line']}:[/red] {err['reason']}", markup=True, highlight=False)
    if report.rejected > 10:
        out.print(f"... and {report.rejected - 10} more rejected rows")
    if report.rejected or report.warnings:
        out.print(
            f"All {report.rejected + report.warnings} problems, with the raw rows, are in "
            f"import_problems (import run {report.run_id})."
        )


def _audit_failed(engine: Engine, actor: Actor, path: Path, fmt: str | None) -> None:
    """``import.failed`` with the file's digest (when it can be read), as the API records it."""
    from tocsin.security.audit import record

    digest: str | None = None
    try:
        sha = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                sha.update(chunk)
        digest = sha.hexdigest()
    except OSError:
        pass  # a missing or unreadable file: the entry still says that an import failed
    with engine.begin() as conn:
        record(conn, actor, "import.failed", "events", {"sha256": digest, "format": fmt})


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps({"error": message}, ensure_ascii=False) + "\n")
    else:
        console.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(1)


gazetteer_app = typer.Typer(
    help="The gazetteer of places (admin areas with P-codes).", no_args_is_help=True
)


@gazetteer_app.command("import")
def gazetteer_import(
    file: Path = typer.Argument(
        ...,
        help="OCHA global P-code CSV (HXL-tagged), e.g. global_pcodes_adm1_adm2.csv.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary only."),
) -> None:
    """Load admin-1/admin-2 areas and their P-codes into the gazetteer (idempotent)."""
    from tocsin.ingest.gazetteer import import_pcodes
    from tocsin.store.db import make_engine

    engine = make_engine()
    try:
        with _progress() as progress:
            task = progress.add_task(file.name, total=None)

            def update(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            report = import_pcodes(engine, file, progress=None if as_json else update)
    except FatalImportError as exc:
        _fail(f"{file}: {exc}. Nothing was imported.", as_json)
    finally:
        engine.dispose()
    if as_json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
        return
    Console().print(
        f"places: {report.inserted} added, {report.updated} updated, {report.unchanged} "
        f"unchanged, {report.rejected} rejected"
    )
    for err in report.errors[:10]:
        Console().print(f"line {err['line']}: {err['reason']}", highlight=False, markup=False)
