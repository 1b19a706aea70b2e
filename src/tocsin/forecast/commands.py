"""``tocsin forecast``: panels, forecasts, backtests, evaluation, stored runs and explanations."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tocsin.forecast.errors import ForecastError
from tocsin.forecast.panel import MONTH, PanelError, read_views_panel
from tocsin.forecast.registry import partitions

# Model, scoring and geometry libraries load in the commands that need them: importing them here
# would slow down every ``tocsin`` command by seconds.

app = typer.Typer(
    help="Forecast fatalities by unit-month: panels, models, backtests, evaluation, stored runs.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
EXPECTED = (ForecastError, OSError)


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Expected failures end with one clear line on stderr and exit code 2, no traceback."""
    try:
        yield
    except EXPECTED as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=2) from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def parse_month(text: str) -> int:
    """``YYYY-MM`` or a VIEWS month id -> month id."""
    text = text.strip()
    match = _MONTH.match(text)
    if match:
        return partitions.month_id(int(match.group(1)), int(match.group(2)))
    if text.isdigit():
        return int(text)
    raise ForecastError(f"month {text!r} must be YYYY-MM or a month_id")


def _write_parquet(frame, path: Path) -> None:  # noqa: ANN001
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


# --- panel --------------------------------------------------------------------------------------

Level = Annotated[str, typer.Option(help="cm (country), adm1, adm2 or pgm (PRIO-GRID).")]


@app.command("panel")
def panel_command(
    out_path: Annotated[Path, typer.Option("--out", help="Parquet file to write.")],
    level: Level = "cm",
    event_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--events", help="UCDP GED CSV file (full, API or 16-column layout); repeatable."
        ),
    ] = None,
    from_store: Annotated[
        bool, typer.Option("--from-store", help="Read events from the store instead of files.")
    ] = False,
    boundaries: Annotated[
        Path | None,
        typer.Option(
            help="Admin polygons with adm1_pcode/adm2_pcode (adm levels), or country outlines "
            "(pgm, when not using the shipped ones)."
        ),
    ] = None,
    country_codes: Annotated[
        str | None,
        typer.Option("--countries", help="ISO3 codes or a region (AFRICA), comma-separated."),
    ] = None,
    country_key: Annotated[
        Path | None,
        typer.Option(help="VIEWS country_key.csv, to add VIEWS country_id at the cm level."),
    ] = None,
    first_month: Annotated[str | None, typer.Option(help="First month, YYYY-MM.")] = None,
    last_month: Annotated[str | None, typer.Option(help="Last month, YYYY-MM.")] = None,
    dataset: Annotated[
        list[str] | None, typer.Option(help="Store dataset(s) to read (default: the UCDP ones).")
    ] = None,
    tier: Annotated[
        list[str] | None,
        typer.Option(help="Sensitivity tier(s) of store events to read (default: public)."),
    ] = None,
) -> None:
    """Build a zero-filled unit-month panel of fatalities and event counts by violence type."""
    from tocsin.forecast import countries, events, panel_build

    with _clear_errors():
        if bool(event_files) == from_store:
            raise ForecastError("give either --events FILE... or --from-store")
        if from_store:
            from tocsin.store.db import make_engine

            engine = make_engine()
            frame = events.read_store_events(engine, datasets=dataset, tiers=tier or ("public",))
        else:
            frame = events.read_ged_files(event_files or [])
        codes = countries.expand_country_codes(country_codes) if country_codes else None
        built, rep = panel_build.build_panel(
            frame,
            level,
            boundaries=boundaries,
            country_codes=codes,
            first_month=parse_month(first_month) if first_month else None,
            last_month=parse_month(last_month) if last_month else None,
            country_key=country_key,
        )
        _write_parquet(built.frame, out_path)
    out.print(
        f"wrote {out_path}: {len(built.frame)} rows, {len(built.units)} units, "
        f"{partitions.month_label(built.first_month)} to {partitions.month_label(built.last_month)}"
        f"; {rep.n_placed} of {rep.n_events} events placed"
    )
    for reason, n in sorted(rep.dropped.items()):
        out.print(f"  not placed: {n} event(s): {reason}")


# --- predict / backtest -------------------------------------------------------------------------

PanelOpt = Annotated[
    list[Path],
    typer.Option(
        "--panel",
        help="Panel file (.parquet/.csv, VIEWS layout or from 'forecast panel'); "
        "repeat to stack files (e.g. a long history).",
    ),
]
TargetOpt = Annotated[str, typer.Option(help="Column to forecast, e.g. ged_os.")]
UnitOpt = Annotated[str, typer.Option(help="Unit id column, e.g. country_id or priogrid_gid.")]
DrawsOpt = Annotated[int, typer.Option(min=1, max=10_000, help="Draws per unit-month.")]
SeedOpt = Annotated[int, typer.Option(help="Random seed (same seed, same forecast).")]
FillOpt = Annotated[
    bool,
    typer.Option(
        help="Insert missing months inside a unit's span with zero fatalities instead of failing."
    ),
]


def _load_panel(paths: list[Path], unit: str, target: str, fill_gaps: bool):  # noqa: ANN202
    return read_views_panel(paths, unit=unit, targets=[target], fill_gaps=fill_gaps)


ExtraOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--extra-panel",
        help="More history for the Tocsin model to learn from (never forecast), "
        "e.g. a panel built from an older event dataset; repeatable.",
    ),
]
ExtraUnitOpt = Annotated[
    str | None, typer.Option(help="Unit id column of --extra-panel (default: --unit).")
]


def _request(
    panel,
    target: str,
    draws: int,
    seed: int,
    extra_paths=None,  # noqa: ANN001, ANN202
    extra_unit: str | None = None,
):
    from tocsin.forecast import backtest as bt
    from tocsin.forecast import model, neighbours

    first, second = neighbours.for_panel(panel)
    extra = []
    for path in extra_paths or []:
        more = read_views_panel([path], unit=extra_unit or panel.unit, targets=[target])
        more_first, more_second = neighbours.for_panel(more)
        extra.append(model.ExtraHistory(more, more_first, more_second))
    return bt.ForecastRequest(
        target, draws, seed, model.default_config(panel), first, second, tuple(extra)
    )


@app.command("predict")
def predict_command(
    panel_paths: PanelOpt,
    target: TargetOpt,
    unit: UnitOpt,
    out_path: Annotated[Path, typer.Option("--out", help="Predictions file (.parquet).")],
    steps: Annotated[int, typer.Option(min=1, max=36, help="Months ahead: last+1..last+N.")] = 36,
    draws: DrawsOpt = 1000,
    model_name: Annotated[
        str, typer.Option("--model", help="tocsin, zero, last, boot, conflictology or avg60.")
    ] = "tocsin",
    seed: SeedOpt = 0,
    fill_gaps: FillOpt = False,
    extra_panel: ExtraOpt = None,
    extra_unit: ExtraUnitOpt = None,
) -> None:
    """Forecast the months after the panel's last month; writes month_id, unit, draw, outcome."""
    from tocsin.forecast import backtest as bt

    with _clear_errors():
        bt.check_model_name(model_name)
        panel = _load_panel(panel_paths, unit, target, fill_gaps)
        window = partitions.forecast_window(panel.last_month, steps)
        with _progress() as progress:
            task = progress.add_task(f"{model_name}: fitting and forecasting", total=1)
            forecast, _, _ = bt.run_model(
                model_name, panel, window.months, _request(panel, target, draws, seed)
            )
            progress.advance(task)
        forecast.write(out_path)
    out.print(
        f"wrote {out_path}: {len(forecast.units)} units x {len(forecast.months)} months x "
        f"{forecast.n_draws} draws, {partitions.month_label(window.first)} to "
        f"{partitions.month_label(window.last)}"
    )


@app.command("backtest")
def backtest_command(
    panel_paths: PanelOpt,
    target: TargetOpt,
    unit: UnitOpt,
    windows: Annotated[str, typer.Option(help="Windows, e.g. Y2019,Y2020,Y2021,Y2022.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output directory (challenge layout).")],
    model_names: Annotated[
        list[str],
        typer.Option("--model", help="Model name; repeat for several (tocsin and the baselines)."),
    ],
    draws: DrawsOpt = 1000,
    seed: SeedOpt = 0,
    fill_gaps: FillOpt = False,
    extra_panel: ExtraOpt = None,
    extra_unit: ExtraUnitOpt = None,
) -> None:
    """Forecast past windows from data up to October of the year before each; writes
    DIR/NAME/window=Y..../predictions.parquet."""
    from tocsin.forecast import backtest as bt

    with _clear_errors():
        names = [
            bt.check_model_name(n.strip()) for m in model_names for n in m.split(",") if n.strip()
        ]
        parsed = partitions.parse_windows(windows)
        panel = _load_panel(panel_paths, unit, target, fill_gaps)
        request = _request(panel, target, draws, seed, extra_panel, extra_unit)
        with _progress() as progress:
            task = progress.add_task("backtest", total=len(names) * len(parsed))
            for name in names:

                def done(window, _forecast, name=name):  # noqa: ANN001, ANN202
                    progress.update(task, advance=1, description=f"{name} {window.name}")

                bt.backtest(panel, parsed, name, request, out_dir=out_dir, on_window=done)
    out.print(f"wrote {len(names) * len(parsed)} prediction file(s) under {out_dir}")


# --- evaluate -----------------------------------------------------------------------------------


@app.command("evaluate")
def evaluate_command(
    pred_dir: Annotated[
        Path, typer.Option("--pred", help="Backtest directory (challenge layout).")
    ],
    actuals: Annotated[
        Path | None,
        typer.Option(
            help="VIEWS actuals: a Parquet file or a directory of window=Y..../*.parquet."
        ),
    ] = None,
    panel_paths: Annotated[
        list[Path] | None,
        typer.Option("--panel", help="Panel holding the actual outcomes (with --target)."),
    ] = None,
    target: Annotated[str | None, typer.Option(help="Target column of --panel.")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit id column (default: guessed).")] = None,
    benchmark: Annotated[
        str, typer.Option(help="Model that skill is measured against.")
    ] = "conflictology",
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Where to write evaluation.md/.json and PNG plots (default: PRED/_eval)."
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option(min=10, max=100_000, help="Bootstrap resamples for skill intervals.")
    ] = 1000,
    active_months: Annotated[
        int,
        typer.Option(
            min=1,
            max=120,
            help="A unit is active with a fatality in this many months before the cut-off.",
        ),
    ] = 36,
) -> None:
    """Score backtests: CRPS, ignorance, interval score, twCRPS, Brier, AP, MSLE, skill."""
    from tocsin.forecast import report
    from tocsin.forecast.evaluate import MetricSettings

    with _clear_errors():
        if (actuals is None) == (not panel_paths):
            raise ForecastError("give either --actuals or --panel with --target")
        if panel_paths:
            if not target:
                raise ForecastError("--panel needs --target")
            if unit is None:
                raise ForecastError("--panel needs --unit")
            truth = report.actuals_from_panel(_load_panel(panel_paths, unit, target, False), target)
        else:
            truth = report.read_actuals_dir(actuals, unit)
            unit = unit or [c for c in truth.columns if c not in (MONTH, "outcome")][0]
        settings = MetricSettings(bootstrap_samples=bootstrap, active_months=active_months)
        with _progress() as progress:
            task = progress.add_task("scoring", total=2)
            evaluation = report.evaluate_directory(
                pred_dir, truth, unit, settings=settings, benchmark=benchmark
            )
            progress.advance(task)
            paths = report.write_outputs(evaluation, out_dir or pred_dir / "_eval")
            progress.advance(task)
    out.print(paths["markdown"].read_text(encoding="utf-8"), markup=False, highlight=False)
    out.print("wrote " + ", ".join(str(p) for p in paths.values()))


# --- stored runs --------------------------------------------------------------------------------


@app.command("run")
def run_command(
    level: Level = "cm",
    target: Annotated[
        str, typer.Option(help="ged_os (violence against civilians), ged_sb or ged_ns.")
    ] = "ged_os",
    boundaries: Annotated[Path | None, typer.Option(help="Admin polygons (adm levels).")] = None,
    country_codes: Annotated[
        str | None,
        typer.Option("--countries", help="ISO3 codes or a region, comma-separated (pgm)."),
    ] = None,
    cutoff: Annotated[
        str | None,
        typer.Option(help="Last month of data, YYYY-MM (default: the last complete month)."),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, max=36, help="Months ahead.")] = 36,
    draws: DrawsOpt = 1000,
    seed: SeedOpt = 0,
    dataset: Annotated[
        list[str] | None, typer.Option(help="Store dataset(s) to read (default: the UCDP ones).")
    ] = None,
    explain_top: Annotated[
        int, typer.Option(min=1, max=20, help="Features kept per unit-month and direction.")
    ] = 3,
) -> None:
    """Forecast every unit at the level from the store and save the run (draws, summaries,
    explanations) with model version, data cut-off and input hash."""
    from tocsin.forecast import countries, events, panel_build, runs
    from tocsin.forecast.store_run import forecast_and_save
    from tocsin.store.db import make_engine

    with _clear_errors():
        engine = make_engine()
        today = datetime.now(UTC)
        last_complete = partitions.month_id(today.year, today.month) - 1
        cut = parse_month(cutoff) if cutoff else last_complete
        if cut > last_complete:
            raise ForecastError(
                f"cut-off {partitions.month_label(cut)} is not a complete month yet"
            )
        with _progress() as progress:
            task = progress.add_task("reading events", total=4)
            frame = events.read_store_events(engine, datasets=dataset)
            if frame.empty:
                raise PanelError("the store has no events of organised violence to forecast from")
            progress.update(task, advance=1, description="building the panel")
            codes = countries.expand_country_codes(country_codes) if country_codes else None
            built, _ = panel_build.build_panel(
                frame,
                level,
                boundaries=boundaries,
                country_codes=codes,
                first_month=int(frame[MONTH].min()),
                last_month=cut,
            )
            progress.update(task, advance=1, description="fitting and forecasting")
            saved = forecast_and_save(
                engine,
                built,
                level=level,
                target=target,
                cutoff=cut,
                steps=steps,
                draws=draws,
                seed=seed,
                explain_top=explain_top,
            )
            run_id, window = saved.run_id, saved.window
            progress.update(task, advance=2)
        values = runs.run_values(engine, run_id, month_id=window.first)
    table = Table(
        title=f"run {run_id}: {target}, {partitions.month_label(window.first)}, highest risk"
    )
    for column in ("unit", "P(>=1)", "P(>=25)", "median", "90% interval"):
        table.add_column(column)
    for row in values.sort_values(["p_ge25", "p_ge1"], ascending=False).head(10).itertuples():
        table.add_row(
            str(row.unit),
            f"{row.p_ge1:.2f}",
            f"{row.p_ge25:.2f}",
            f"{row.q50:.0f}",
            f"{row.q05:.0f}-{row.q95:.0f}",
        )
    out.print(table)
    out.print(
        f"saved forecast run {run_id} ({saved.n_units} units, {steps} months, data to "
        f"{partitions.month_label(cut)})"
    )


@app.command("runs")
def runs_command(
    level: Annotated[str | None, typer.Option(help="Only runs at this level.")] = None,
    target: Annotated[str | None, typer.Option(help="Only runs for this target.")] = None,
) -> None:
    """List stored forecast runs, newest first."""
    from tocsin.forecast import runs
    from tocsin.store.db import make_engine

    with _clear_errors():
        found = runs.list_runs(make_engine(), level=level, target=target)
    table = Table(title="forecast runs")
    for column in ("id", "created", "model", "level", "target", "data to", "months", "units"):
        table.add_column(column)
    for r in found:
        table.add_row(
            str(r.id),
            f"{r.created_at:%Y-%m-%d %H:%M}",
            r.model_version,
            r.level,
            r.target,
            partitions.month_label(r.data_cutoff),
            f"{partitions.month_label(r.first_month)}..{partitions.month_label(r.last_month)}",
            str(r.n_units),
        )
    out.print(table)


@app.command("explain")
def explain_command(
    run_id: Annotated[int, typer.Option("--run", help="Forecast run id.")],
    unit: Annotated[str, typer.Option(help="Unit id (ISO3, P-code or PRIO-GRID cell).")],
    month: Annotated[str, typer.Option(help="Forecast month, YYYY-MM or month_id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Why is the risk what it is here: the features that raised and lowered it most."""
    from tocsin.forecast import runs
    from tocsin.store.db import make_engine

    with _clear_errors():
        found = runs.explanation(make_engine(), run_id, unit, parse_month(month))
    if as_json:
        sys.stdout.write(json.dumps(found.as_dict(), indent=1, default=str) + "\n")
        return
    s = found.summary
    out.print(
        f"run {run_id}, unit {found.unit}, {found.month}: P(>=1) {s['p_ge1']:.2f}, "
        f"P(>=25) {s['p_ge25']:.2f}, median {s['q50']:.0f} (90%: {s['q05']:.0f}-"
        f"{s['q95']:.0f})",
        highlight=False,
    )
    for title, factors in (
        ("raised the risk", found.raising),
        ("lowered the risk", found.lowering),
    ):
        table = Table(title=title)
        for column in ("part", "feature", "value", "contribution"):
            table.add_column(column)
        for f in factors:
            value = "" if f.feature_value is None else f"{f.feature_value:.3g}"
            table.add_row(f.part, f.description, value, f"{f.contribution:+.3f}")
        out.print(table)
