"""``tocsin demo``: the main job on the embedded store, end to end, in one command.

It builds the store, loads either a synthetic scenario or the real files of ``--data-dir``, and
serves the web interface on 127.0.0.1. ``./scripts/demo`` wraps it after setting up ``.venv``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tocsin import config

console = Console()

DATA_SUFFIXES = {".csv", ".json", ".geojson"}


def demo(
    no_serve: bool = typer.Option(False, "--no-serve", help="Load the data, then exit."),
    data_dir: Path | None = typer.Option(
        None,
        "--data-dir",
        help="Load the real files in DIR (UCDP, ACLED, Insecurity Insight, HXL, GeoJSON) "
        "instead of a synthetic scenario.",
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
    """Build the embedded store, load a scenario (or --data-dir), and serve the overview."""
    from tocsin.ingest.runner import ingest_file
    from tocsin.store.db import make_engine

    engine = make_engine()
    files = _data_files(data_dir) if data_dir else [_scenario_file(country, months, seed)]
    if not files:
        console.print(f"[red]no importable files (*.csv, *.json, *.geojson) in {data_dir}[/red]")
        raise typer.Exit(2)

    table = Table(title="Loaded")
    for col in ("file", "read", "inserted", "updated", "unchanged", "rejected"):
        table.add_column(col, justify="left" if col == "file" else "right")
    failed = 0
    for path in files:
        try:
            report = ingest_file(engine, path)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the demo
            failed += 1
            console.print(f"[yellow]skipped {path.name}: {exc}[/yellow]")
            continue
        table.add_row(
            path.name,
            *(
                str(v)
                for v in (
                    report.read,
                    report.inserted,
                    report.updated,
                    report.unchanged,
                    report.rejected,
                )
            ),
        )
    console.print(table)
    url = f"http://{host}:{port}/"
    console.print(f"store: [bold]{_where(engine)}[/bold]")
    console.print("look at: [bold]tocsin events list[/bold], [bold]tocsin events export[/bold]")
    if no_serve:
        console.print(f"done. serve it with: tocsin serve --port {port}  (then open {url})")
        if failed:
            raise typer.Exit(1)
        return
    import uvicorn

    from tocsin.api.app import create_app

    console.print(f"serving on [bold]{url}[/bold]  (Ctrl-C to stop)")
    uvicorn.run(create_app(engine=engine), host=host, port=port, server_header=False)


def _where(engine: object) -> str:
    url = engine.url  # type: ignore[attr-defined]
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)


def _data_files(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES
    )


def _scenario_file(country: str, months: int, seed: int) -> Path:
    from tocsin.scenario.generator import generate_scenario

    out = config.home() / "scenario" / f"{country.upper()}-{months}m-seed{seed}"
    console.print(f"generating a scenario: {country.upper()}, {months} months, seed {seed}")
    return generate_scenario(country=country, months=months, seed=seed, out_dir=out, force=True)
