"""``tocsin events``: list, show and export stored events from the command line.

The command line runs as the trusted local operator, but it still does not hand out more than
asked: ``--max-tier`` (default ``internal``) caps the sensitivity tiers it reads, so restricted
and confidential events stay out unless the operator names them, and an export that does
contain them says so on stderr.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from tocsin.domain.grading import format_grade
from tocsin.domain.taxonomy import SensitivityTier
from tocsin.store.db import make_engine
from tocsin.store.export import RECORD_FIELDS, WRITERS, ExportError, event_to_record
from tocsin.store.queries import (
    MAX_PAGE_SIZE,
    EventQuery,
    QueryError,
    Scope,
    SortOrder,
    count_events,
    get_event,
    iter_events,
    search_events,
)
from tocsin.store.reads import StoredEvent

app = typer.Typer(help="List, show and export stored events.", no_args_is_help=True)
out_console = Console()
err_console = Console(stderr=True)

MAX_POLYGON_FILE_BYTES = 5_000_000


class ExportFormat(StrEnum):
    CSV = "csv"
    GEOJSON = "geojson"
    HXL = "hxl"


# --- shared filter options ----------------------------------------------------------------

BboxOpt = Annotated[
    str | None, typer.Option("--bbox", help="MIN_LON,MIN_LAT,MAX_LON,MAX_LAT (edges included).")
]
RadiusOpt = Annotated[
    str | None, typer.Option("--radius", help="LAT,LON,KM: events within KM of the point.")
]
PolygonOpt = Annotated[
    Path | None,
    typer.Option(
        "--polygon",
        help="A GeoJSON file: a Polygon/MultiPolygon geometry, Feature, or a "
        "FeatureCollection with one feature.",
    ),
]
PcodeOpt = Annotated[
    str | None, typer.Option("--pcode", help="Admin P-code prefix (CF11 covers its admin-2 areas).")
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="YYYY-MM-DD: events that end on or after this day.")
]
ToOpt = Annotated[
    str | None, typer.Option("--to", help="YYYY-MM-DD: events that start on or before this day.")
]
TypeOpt = Annotated[
    list[str] | None,
    typer.Option("--type", help="Violence type: state_based, non_state, one_sided (repeatable)."),
]
ActOpt = Annotated[
    list[str] | None, typer.Option("--act", help="Act type, e.g. killing, abduction (repeatable).")
]
ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Actor name or alias (case and accents ignored).")
]
MinFatalitiesOpt = Annotated[
    int | None, typer.Option("--min-fatalities", help="Best fatality estimate at least this.")
]
CountryOpt = Annotated[str | None, typer.Option("--country", help="ISO 3166 alpha-3 code.")]
DatasetOpt = Annotated[str | None, typer.Option("--dataset", help="Only this dataset.")]
MaxTierOpt = Annotated[
    SensitivityTier,
    typer.Option(
        "--max-tier",
        help="Most sensitive tier to include. The default leaves restricted and confidential "
        "events out.",
    ),
]
SortOpt = Annotated[SortOrder, typer.Option("--sort", help="Order of the events.")]


def _floats(text: str, n: int, what: str, shape: str) -> tuple[float, ...]:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise typer.BadParameter(f"{what} must be {shape}, got {text!r}") from None
    if len(values) != n:
        raise typer.BadParameter(f"{what} must be {shape}, got {text!r}")
    return values


def _date(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{what} must be a date YYYY-MM-DD, got {text!r}") from None


def _split(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for item in values or () for v in item.split(",") if v.strip())


def read_polygon_file(path: Path) -> dict[str, Any]:
    """The polygon geometry in a GeoJSON file (geometry, Feature or one-feature collection)."""
    try:
        if path.stat().st_size > MAX_POLYGON_FILE_BYTES:
            raise QueryError(f"{path} is larger than {MAX_POLYGON_FILE_BYTES // 1_000_000} MB")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise QueryError(f"cannot read {path}: {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QueryError(f"{path} is not a UTF-8 JSON file: {exc}") from exc
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list) or len(features) != 1:
            raise QueryError(f"{path}: a FeatureCollection must hold exactly one polygon feature")
        data = features[0]
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict):
        raise QueryError(f"{path} does not hold a GeoJSON geometry")
    return data


def build_query(
    *,
    bbox: str | None = None,
    radius: str | None = None,
    polygon: Path | None = None,
    pcode: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    types: list[str] | None = None,
    acts: list[str] | None = None,
    actor: str | None = None,
    min_fatalities: int | None = None,
    country: str | None = None,
    dataset: str | None = None,
    sort: SortOrder = SortOrder.DATE_DESC,
) -> EventQuery:
    """The :class:`EventQuery` for the command-line filter options."""
    return EventQuery(
        bbox=None
        if bbox is None
        else _floats(bbox, 4, "--bbox", "MIN_LON,MIN_LAT,MAX_LON,MAX_LAT"),
        radius=None if radius is None else _floats(radius, 3, "--radius", "LAT,LON,KM"),
        polygon=None if polygon is None else read_polygon_file(polygon),
        pcode=pcode,
        country_iso3=country,
        start=_date(date_from, "--from"),
        end=_date(date_to, "--to"),
        violence_types=_split(types),
        act_types=_split(acts),
        actor=actor,
        min_fatalities=min_fatalities,
        dataset=dataset,
        sort=sort,
    )


def _fail(message: str) -> typer.Exit:
    err_console.print(Text.assemble(("error: ", "bold red"), message))
    return typer.Exit(code=2)


# --- commands -----------------------------------------------------------------------------


@app.command("export")
def export_command(
    fmt: Annotated[ExportFormat, typer.Option("--format", help="Output format.")] = (
        ExportFormat.CSV
    ),
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: standard output).")
    ] = None,
    bbox: BboxOpt = None,
    radius: RadiusOpt = None,
    polygon: PolygonOpt = None,
    pcode: PcodeOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    types: TypeOpt = None,
    acts: ActOpt = None,
    actor: ActorOpt = None,
    min_fatalities: MinFatalitiesOpt = None,
    country: CountryOpt = None,
    dataset: DatasetOpt = None,
    max_tier: MaxTierOpt = SensitivityTier.INTERNAL,
) -> None:
    """Export the matching events as CSV, GeoJSON or HXL (streamed; any size)."""
    try:
        query = build_query(
            bbox=bbox, radius=radius, polygon=polygon, pcode=pcode, date_from=date_from,
            date_to=date_to, types=types, acts=acts, actor=actor, min_fatalities=min_fatalities,
            country=country, dataset=dataset, sort=SortOrder.DATE_ASC,
        )  # fmt: skip
        scope = Scope.up_to(max_tier)
    except QueryError as exc:
        raise _fail(str(exc)) from None
    engine = make_engine()
    writer = WRITERS[fmt.value]
    above_internal = 0

    def records(events: Iterator[StoredEvent], progress: Progress, task: Any) -> Iterator[dict]:
        nonlocal above_internal
        for stored in events:
            if stored.event.sensitivity > SensitivityTier.INTERNAL:
                above_internal += 1
            progress.advance(task)
            yield event_to_record(stored)

    try:
        with engine.connect() as conn, _output(out) as stream:
            total = count_events(conn, query, scope)
            with _progress() as progress:
                task = progress.add_task(f"exporting {fmt.value}", total=total)
                written = writer(
                    records(iter_events(conn, query, scope), progress, task),
                    stream,
                    fields=RECORD_FIELDS,
                )
    except (ExportError, OSError) as exc:
        kept = "" if out is None else f"; {out} was not written"
        raise _fail(f"export failed: {exc}{kept}") from None
    finally:
        engine.dispose()
    if above_internal:
        err_console.print(
            Text.assemble(
                ("warning: ", "bold yellow"),
                f"{above_internal} exported event(s) are above the 'internal' tier: this "
                "export contains RESTRICTED information. Handle and share it on a need-to-know "
                "basis only.",
            )
        )
    where = "standard output" if out is None else str(out)
    err_console.print(Text(f"{written} event(s) written to {where}"))


@app.command("list")
def list_command(
    limit: Annotated[int, typer.Option("--limit", help="Events per page.", min=1)] = 20,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="The next-page cursor printed last time.")
    ] = None,
    sort: SortOpt = SortOrder.DATE_DESC,
    bbox: BboxOpt = None,
    radius: RadiusOpt = None,
    polygon: PolygonOpt = None,
    pcode: PcodeOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    types: TypeOpt = None,
    acts: ActOpt = None,
    actor: ActorOpt = None,
    min_fatalities: MinFatalitiesOpt = None,
    country: CountryOpt = None,
    dataset: DatasetOpt = None,
    max_tier: MaxTierOpt = SensitivityTier.INTERNAL,
) -> None:
    """Show one page of matching events as a table."""
    engine = make_engine()
    try:
        query = build_query(
            bbox=bbox, radius=radius, polygon=polygon, pcode=pcode, date_from=date_from,
            date_to=date_to, types=types, acts=acts, actor=actor, min_fatalities=min_fatalities,
            country=country, dataset=dataset, sort=sort,
        )  # fmt: skip
        with engine.connect() as conn:
            page = search_events(
                conn, query, Scope.up_to(max_tier), limit=min(limit, MAX_PAGE_SIZE), cursor=cursor
            )
    except QueryError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    table = Table(title=f"{page.total} matching event(s)", show_lines=False)
    for name, justify in (
        ("date", "left"),
        ("uid", "left"),
        ("place", "left"),
        ("country", "left"),
        ("type", "left"),
        ("deaths", "right"),
        ("dataset", "left"),
        ("tier", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for item in page.items:
        ev = item.event
        table.add_row(
            *_texts(
                _period(ev.date_start, ev.date_end),
                item.uid,
                _place(item),
                ev.country_iso3,
                ev.violence_type.value if ev.violence_type else None,
                ev.fatalities_best,
                ev.provenance.dataset,
                ev.sensitivity.value,
            )
        )
    out_console.print(table)
    if page.next_cursor:
        out_console.print(f"next page: --cursor {page.next_cursor}", highlight=False)


@app.command("show")
def show_command(
    uid: Annotated[str, typer.Argument(help="The event's uid.")],
    max_tier: MaxTierOpt = SensitivityTier.INTERNAL,
) -> None:
    """Show every stored field of one event."""
    engine = make_engine()
    try:
        with engine.connect() as conn:
            stored = get_event(conn, uid, Scope.up_to(max_tier))
    except QueryError as exc:
        raise _fail(str(exc)) from None
    finally:
        engine.dispose()
    if stored is None:
        raise _fail(f"no event {uid!r} at or below tier {max_tier.value!r}")
    ev = stored.event
    table = Table(show_header=False, title=Text(f"event {stored.uid}"), title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    record = event_to_record(stored)
    for name in RECORD_FIELDS:
        value = record.get(name)
        if name in ("sources", "source_grades", "victim_groups") or value in (None, ""):
            continue
        table.add_row(*_texts(name, value))
    for src in ev.sources:
        detail = ", ".join(str(x) for x in (src.reference, src.published) if x is not None)
        grade = format_grade(src.reliability, src.credibility)
        table.add_row(*_texts("source", f"{src.name} [{grade}] {detail}".strip()))
    for vg in ev.victims:
        counts = ", ".join(
            f"{k}={getattr(vg, k)}"
            for k in ("count", "female", "male", "children", "adults")
            if getattr(vg, k) is not None
        )
        table.add_row(*_texts("victims", f"{vg.description} {counts}".strip()))
    table.add_row(*_texts("import run", stored.import_run_id))
    table.add_row(*_texts("created", stored.created_at.isoformat()))
    table.add_row(*_texts("updated", stored.updated_at.isoformat()))
    out_console.print(table)


# --- helpers ------------------------------------------------------------------------------


def _texts(*values: object) -> list[Text]:
    """Cells as plain Text: stored strings are data, so "[bold]" in a place name must be
    printed as typed, never interpreted as Rich markup."""
    return [Text("" if v is None else str(v)) for v in values]


def _period(start: date, end: date) -> str:
    return start.isoformat() if start == end else f"{start.isoformat()}..{end.isoformat()}"


def _place(item: StoredEvent) -> str:
    ev = item.event
    parts = [p for p in (ev.place_name, ev.admin2_name, ev.admin1_name) if p]
    return ", ".join(dict.fromkeys(parts))


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


@contextmanager
def _output(out: Path | None) -> Iterator[TextIO]:
    """Standard output, or a file that appears only once the export is complete (written to a
    temporary file next to it and renamed), so a failed export never leaves half a file."""
    if out is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    directory = out.resolve().parent
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
