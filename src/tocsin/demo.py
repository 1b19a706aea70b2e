"""``tocsin demo``: the whole Tocsin loop on the embedded store, in one command.

Steps (each a small function; each safe to repeat on the same store):

1. build the store and load a synthetic scenario (ending with the last complete month), or the
   real files of ``--data-dir``;
2. demo accounts (an analyst, a protection officer) with random passwords and TOTP, written to
   ``$TOCSIN_HOME/demo-credentials.txt`` (mode 0600);
3. a forecast run (PRIO-GRID cells of the scenario country; the datasets loaded otherwise);
4. fictional civilian reports through the intake service (synthetic scenario only: a mission's
   own data should not be mixed with invented reports);
5. a demo trigger file (if there is none) and one alert evaluation round;
6. where to look: pages, API, CLI commands.

``./scripts/demo`` wraps it after setting up ``.venv``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, select

from tocsin import config

console = Console()

DATA_SUFFIXES = {".csv", ".json", ".geojson"}
SCENARIO_DATASET = "synthetic_scenario"
STEPS = 5  # load, accounts, forecast, reports, alerts


def demo(
    no_serve: bool = typer.Option(False, "--no-serve", help="Load the data, then exit."),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Load the real files in DIR (UCDP, ACLED, Insecurity Insight, HXL, GeoJSON) "
        "instead of a synthetic scenario (no invented reports are added then).",
        exists=True,
        file_okay=False,
        dir_okay=True,
        resolve_path=True,
    ),
    country: str = typer.Option("CAF", help="ISO3 country of the synthetic scenario."),
    months: int = typer.Option(48, help="Months of synthetic history."),
    seed: int = typer.Option(7, help="Seed of the synthetic scenario."),
    host: str = typer.Option("127.0.0.1", help="Address to serve on."),
    port: int = typer.Option(8000, help="Port to serve on."),
) -> None:
    """Build the store, load a scenario (or --data-dir), create demo accounts, forecast, queue
    demo reports, evaluate alerts, and serve the web interface."""
    from tocsin.store.db import make_engine

    engine = make_engine()
    files = _data_files(data_dir) if data_dir else [_scenario_file(country, months, seed)]
    if not files:
        console.print(f"[red]no importable files (*.csv, *.json, *.geojson) in {data_dir}[/red]")
        raise typer.Exit(2)
    failed = load_files(engine, files)
    datasets = [SCENARIO_DATASET] if data_dir is None else forecast_datasets(engine)
    with _progress() as progress:
        task = progress.add_task("demo accounts", total=STEPS - 1)
        creds = step_accounts(engine)
        progress.update(task, advance=1, description="forecast")
        level = step_forecast(engine, datasets, country if data_dir is None else None)
        progress.update(task, advance=1, description="civilian reports")
        if data_dir is None:
            step_reports(engine)
        else:
            console.print("reports: none invented for real data (submit some at /report)")
        progress.update(task, advance=1, description="alerts")
        step_alerts(engine, level)
        progress.update(task, advance=1, description="done")
    url = f"http://{host}:{port}"
    print_where_to_look(engine, url, creds, country.upper())
    if no_serve:
        console.print(f"done. serve it with: tocsin serve --port {port}  (then open {url}/)")
        if failed:
            raise typer.Exit(1)
        return
    import uvicorn

    from tocsin.api.app import create_app

    console.print(f"serving on [bold]{url}/[/bold]  (Ctrl-C to stop)")
    uvicorn.run(create_app(engine=engine), host=host, port=port, server_header=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    )


# --- 1. load ----------------------------------------------------------------------------------


def load_files(engine: Engine, files: list[Path]) -> int:
    """Imports each file (audited); returns how many failed. One bad file never stops the demo."""
    from tocsin.ingest.runner import ingest_file
    from tocsin.security.audit import Actor

    table = Table(title="Loaded")
    for col in ("file", "read", "inserted", "updated", "unchanged", "rejected"):
        table.add_column(col, justify="left" if col == "file" else "right")
    failed = 0
    for path in files:
        try:
            report = ingest_file(engine, path, audit_actor=Actor.cli())
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the demo
            failed += 1
            console.print(f"[yellow]skipped {path.name}: {exc}[/yellow]")
            continue
        counts = (report.read, report.inserted, report.updated, report.unchanged, report.rejected)
        table.add_row(path.name, *(str(v) for v in counts))
    console.print(table)
    return failed


def forecast_datasets(engine: Engine) -> list[str]:
    """The UCDP datasets of the store if it has any, else every dataset: the forecaster counts
    each death once, so UCDP and ACLED (which report the same deaths) are never summed."""
    from tocsin.store.schema import events

    with engine.connect() as conn:
        names = sorted(conn.scalars(select(events.c.dataset).distinct()))
    ucdp = [n for n in names if n.lower().startswith("ucdp")]
    return ucdp or names


def _data_files(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
    )


def scenario_start(months: int, today: date | None = None) -> date:
    """The first month of a scenario that ends with the last complete month, so the forecast,
    surges and proximity alerts are about now rather than about an old window."""
    today = today or datetime.now(UTC).date()
    index = today.year * 12 + (today.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)


def _scenario_file(country: str, months: int, seed: int) -> Path:
    from tocsin.scenario.generator import generate_scenario

    start = scenario_start(months)
    out = config.home() / "scenario" / f"{country.upper()}-{start:%Y%m}-{months}m-seed{seed}"
    console.print(
        f"generating a scenario: {country.upper()}, {months} months from {start:%Y-%m}, seed {seed}"
    )
    return generate_scenario(
        country=country, months=months, seed=seed, out_dir=out, force=True, start=start
    )


# --- 2. accounts ------------------------------------------------------------------------------


def step_accounts(engine: Engine):  # noqa: ANN201 - AccountsResult, imported lazily
    from tocsin.demo_accounts import ensure_demo_accounts

    result = ensure_demo_accounts(engine, config.home())
    for name in result.skipped:
        console.print(
            f"[yellow]user {name!r} exists with another role: not used as a demo account[/yellow]"
        )
    return result


# --- 3. forecast ------------------------------------------------------------------------------


def step_forecast(engine: Engine, datasets: list[str], country: str | None) -> str | None:
    """Runs the forecast; returns its level, or None when there was nothing to forecast."""
    from tocsin.demo_forecast import run_demo_forecast
    from tocsin.forecast.errors import ForecastError
    from tocsin.forecast.registry import partitions

    try:
        # Without a country (real files), PRIO-GRID cells of every country in the data.
        run = run_demo_forecast(
            engine, datasets=datasets, level="pgm", countries=[country] if country else None
        )
    except ForecastError as exc:
        console.print(f"[yellow]forecast: skipped ({exc})[/yellow]")
        return None
    what = "kept run" if run.reused else "forecast run"
    console.print(
        f"{what} {run.run_id}: {run.units} PRIO-GRID cells, "
        f"{partitions.month_label(run.first_month)} to {partitions.month_label(run.last_month)}"
    )
    return run.level


# --- 4. reports -------------------------------------------------------------------------------


def step_reports(engine: Engine) -> None:
    from tocsin.demo_reports import submit_demo_reports

    result = submit_demo_reports(engine, config.home())
    classes = ", ".join(f"{n} {c}" for c, n in sorted(result.by_case_class.items()))
    console.print(
        f"reports: {result.stored} new, {result.duplicates} already queued ({classes}); "
        "the texts are invented"
    )


# --- 5. alerts --------------------------------------------------------------------------------


def step_alerts(engine: Engine, forecast_level: str | None) -> None:
    from tocsin.alerts.triggers.config import TriggerConfigError
    from tocsin.demo_alerts import run_demo_alerts

    try:
        result = run_demo_alerts(engine, forecast_level)
    except TriggerConfigError as exc:  # the user's own file, edited: say so, keep going
        console.print(f"[yellow]alerts: not evaluated: {exc}[/yellow]")
        return
    source = "wrote demo triggers" if result.written else "used existing triggers"
    report = result.report
    console.print(
        f"alerts: {source} {result.path}; {len(report.created)} new alert(s), "
        f"{report.already_known} already known"
    )
    for note in report.notes:
        console.print(f"  note: {note}")
    for trigger, error in sorted(report.failed_triggers.items()):
        console.print(f"  [yellow]trigger {trigger} failed: {error}[/yellow]")


# --- 6. where to look -------------------------------------------------------------------------


def print_where_to_look(engine: Engine, url: str, creds, area: str) -> None:  # noqa: ANN001
    console.print(f"store: [bold]{_where(engine)}[/bold]")
    analyst = next((c for c in creds.credentials if c.username == "analyst"), None)
    console.print(
        "[bold]DEMO accounts[/bold] (random passwords for this store only; never use them with "
        f"real data): {creds.path}"
    )
    if analyst is not None:
        console.print(f"  sign in at {url}/login", soft_wrap=True)
        console.print(f"  username: [bold]{analyst.username}[/bold]", soft_wrap=True)
        # markup=False: a password may hold '[' and must be shown exactly, never wrapped
        console.print(f"  password: {analyst.password}", markup=False, soft_wrap=True)
        if analyst.totp_secret:
            console.print(
                "  the analyst role needs a TOTP code: add the otpauth URI in the file above to "
                "an authenticator app"
            )
    table = Table(title="Where to look", show_header=False)
    table.add_column("what")
    table.add_column("where", overflow="fold")
    for label, path in (
        ("dashboard", "/dashboard"),
        ("map (events, forecast choropleth)", "/map"),
        ("report queue (triage)", "/reports"),
        ("alerts, with explanations", "/alerts"),
        ("forecast", "/forecast"),
        ("data sources", "/sources"),
        ("public report form", "/report"),
        ("API description", "/api/v1/openapi.json"),
    ):
        table.add_row(label, f"{url}{path}")
    period = f"{scenario_start(1):%Y-%m}"  # the last complete month
    for label, command in (
        ("alerts on the command line", "tocsin alerts list"),
        ("events", "tocsin events list"),
        ("situation report", f"tocsin sitrep --period {period} --area {area}"),
    ):
        table.add_row(label, command)
    console.print(table)


def _where(engine: object) -> str:
    url = engine.url  # type: ignore[attr-defined]
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)
