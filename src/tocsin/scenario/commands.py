"""``tocsin scenario``: generate synthetic scenarios, and calibrate or check them against GED.

Heavy modules (scipy, the generator) are imported inside the commands so that ``tocsin --help``
stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    help="Synthetic conflict scenarios in UCDP GED format, calibrated to real data.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(code=2)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )


@app.command("generate")
def generate(
    country: str = typer.Option(..., "--country", help="ISO 3166-1 alpha-3 code, e.g. CAF."),
    months: int = typer.Option(..., "--months", help="Length in whole months (1 to 1200)."),
    seed: int = typer.Option(
        ..., "--seed", help="Random seed: the same seed gives the same bytes."
    ),
    out: Path = typer.Option(..., "--out", help="Folder to write into (must be empty)."),
    start: str | None = typer.Option(
        None,
        "--start",
        help="First month, YYYY-MM. Default: the window ends in December 2025.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Write into a non-empty folder, replacing an earlier scenario."
    ),
) -> None:
    """Write a synthetic GED CSV and scenario.json for one country."""
    from tocsin.geo.countries import UnknownCountryError
    from tocsin.scenario.ged_sample import GedSampleError, parse_month
    from tocsin.scenario.generator import build_scenario
    from tocsin.scenario.model import ScenarioError
    from tocsin.scenario.output import write_scenario

    try:
        first = parse_month(start).date() if start is not None else None
        with _progress() as progress:
            progress.add_task(f"Simulating {months} months for {country.upper()[:3]}", total=None)
            scenario = build_scenario(country, months, seed, start=first)
        paths = write_scenario(scenario, out, force=force)
    except (ScenarioError, UnknownCountryError, GedSampleError) as exc:
        raise _fail(str(exc)) from None
    manifest = scenario.manifest
    if manifest["events"] == 0:
        errors.print("note: the process produced no events; try more months or another seed")
    console.print(
        f"{manifest['events']:,} synthetic events, {manifest['window']['start']} to "
        f"{manifest['window']['end']}, in {paths[0]}",
        soft_wrap=True,
        highlight=False,
    )


@app.command("calibrate")
def calibrate(
    ged: Path = typer.Option(..., "--ged", help="A UCDP GED CSV (49-column or API layout)."),
    country: str | None = typer.Option(
        None, "--country", help="ISO3 code; needed when the file holds several countries."
    ),
    start: str | None = typer.Option(
        None, "--start", help="First month fitted, YYYY-MM. Default: the file's last months."
    ),
    months: int = typer.Option(120, "--months", help="Length of the fitted window in months."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of Python source."),
) -> None:
    """Fit the generator's parameters to a GED file and print them (see calibration.py)."""
    from tocsin.geo.countries import UnknownCountryError
    from tocsin.scenario.fit import calibration_source, fit_calibration
    from tocsin.scenario.ged_sample import GedSampleError, load_ged_sample

    try:
        with _progress() as progress:
            progress.add_task(f"Fitting {ged.name}", total=None)
            sample = load_ged_sample(ged, country=country, window_start=start, window_months=months)
            fitted = fit_calibration(sample)
    except (GedSampleError, UnknownCountryError) as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(json.dumps(fitted.as_dict(), indent=2, sort_keys=True))
    else:
        print(calibration_source(fitted), end="")


@app.command("compare")
def compare(
    ged: Path = typer.Option(..., "--ged", help="The GED CSV the calibration was fitted on."),
    seeds: int = typer.Option(20, "--seeds", help="Number of generated scenarios (seeds 1..N)."),
    country: str | None = typer.Option(None, "--country", help="ISO3 code, if several."),
) -> None:
    """Print a markdown table: real data vs generated scenarios vs homogeneous Poisson."""
    from tocsin.geo.countries import UnknownCountryError
    from tocsin.scenario.compare import compare_markdown
    from tocsin.scenario.ged_sample import GedSampleError

    if not 1 <= seeds <= 1000:
        raise _fail("--seeds must be between 1 and 1000")
    try:
        with _progress() as progress:
            progress.add_task(f"Generating {seeds} scenarios", total=None)
            table = compare_markdown(ged, seeds=seeds, country=country)
    except (GedSampleError, UnknownCountryError) as exc:
        raise _fail(str(exc)) from None
    print(table, end="")


@app.command("countries")
def countries() -> None:
    """List the countries a scenario can be generated for."""
    from tocsin.geo.countries import list_countries

    table = Table("ISO3", "name", "GW code", "region", "area km²")
    for c in list_countries():
        table.add_row(
            c.iso3, c.name, "" if c.gw_code is None else str(c.gw_code), c.ged_region,
            f"{c.area_km2:,.0f}",
        )  # fmt: skip
    console.print(table)
