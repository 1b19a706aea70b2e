"""``tocsin sitrep``: a situation report for one period, one area and one audience tier."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from tocsin.domain.taxonomy import SensitivityTier
from tocsin.security.audit import Actor
from tocsin.security.txn import write_transaction
from tocsin.store.db import make_engine
from tocsin.web.i18n import LANGUAGES


class OutputFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"
    BOTH = "both"


def sitrep(
    period: str = typer.Option(
        ...,
        "--period",
        help="A month (2022-01), a year (2022), a day (2022-01-15) or a range (2022-01..2022-03).",
    ),
    area: str = typer.Option(
        ..., "--area", help="An ISO 3166 alpha-3 country code (CAF) or an OCHA P-code (CF11)."
    ),
    tier: SensitivityTier = typer.Option(
        SensitivityTier.PUBLIC,
        "--tier",
        case_sensitive=False,
        help="The audience: the report holds only what this tier may see (default: public).",
    ),
    out: Path = typer.Option(
        Path("."), "--out", file_okay=False, help="Folder to write the report files into."
    ),
    fmt: OutputFormat = typer.Option(
        OutputFormat.BOTH, "--format", case_sensitive=False, help="html, pdf or both."
    ),
    lang: str = typer.Option("en", "--lang", help=f"Language: {', '.join(LANGUAGES)}."),
) -> None:
    """Write a situation report (HTML and/or PDF) for one period, area and audience tier.

    Incidents, a map, charts, the forecast outlook, alerts and responses, and the attribution
    of every data source. Fields above the audience's tier are left out, not blanked; each
    report is recorded in the audit log.
    """
    from tocsin.web import sitrep as reports  # heavy imports only when the command runs

    console = Console(stderr=True)
    if lang not in LANGUAGES:
        raise typer.BadParameter(f"choose one of {', '.join(LANGUAGES)}", param_hint="--lang")
    now = datetime.now(UTC)
    try:
        when = reports.parse_period(period, today=now.date())
        where = reports.parse_area(area)
    except reports.SitrepError as exc:
        console.print("[red]error:[/red]", escape(exc.translate(lang)), highlight=False)
        raise typer.Exit(2) from exc
    formats = ["html", "pdf"] if fmt is OutputFormat.BOTH else [fmt.value]
    engine = make_engine()
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("Reading incidents, alerts and forecasts", total=None)
            with engine.connect() as conn:
                report = reports.build_sitrep(conn, when, where, tier, now=now)
            progress.update(task, description="Writing " + " and ".join(formats).upper())
            # The audit entry commits only once every file is written: no report without it.
            with write_transaction(engine) as conn:
                reports.audit_generation(conn, report, Actor.cli(), formats)
                written = reports.write_files(report, out, formats, lang)
    finally:
        engine.dispose()
    console.print(
        f"{report.totals.incidents} incident(s) for {where.name}, {when.start} to {when.end}, "
        f"audience {tier.value}."
    )
    for path in written:
        typer.echo(str(path))
