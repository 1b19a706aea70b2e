"""Ingestion benchmark: UCDP GED 21.1 global precise events into SQLite and PostGIS.

One command: ``.venv/bin/python bench/ingest.py`` (``--skip-postgres`` without a PostgreSQL
server). Writes its section of BENCHMARKS.md through ``bench/_report.py``.

The large-file measurement is a second, optional command:
``.venv/bin/python bench/ingest.py --large-gb 2`` generates a synthetic GED-layout file of that
size, streams it into a fresh SQLite store and reports time and peak RSS (section
``ingest_large``).

Measured, each in a fresh process so peak RSS belongs to that step alone:

- full import of ``ged211_global_precise_1989_2018.csv`` (159,194 events) into SQLite and into
  PostGIS (a throwaway cluster on 127.0.0.1, as the tests start it): seconds, events/s, peak RSS;
- re-import of the unchanged file (nothing written);
- query latency, p50/p99 over 300 queries: a 1x1-degree box around a random event plus a
  one-year window, through ``tocsin.store.queries.search_events`` (first page of 50 with the
  total count, as the API serves it) and a count-only variant;
- the naive baseline in the same run: pandas ``read_csv`` + a geopandas GeoDataFrame, then the
  same boxes and years with ``.cx`` and a date mask.

Targets (from the issue): full file < 30 s on SQLite, re-import < 10 s, box-query p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from bench._report import machine_info, write_section  # noqa: E402

GLOBAL = "ucdp/ged211_global_precise_1989_2018.csv"
QUERIES = 300
SEED = 20261121


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- worker steps (run in a child process) --------------------------------------------------


def worker_ingest(url: str, path: str) -> dict[str, object]:
    from tocsin.ingest.runner import ingest_file
    from tocsin.store.db import make_engine

    engine = make_engine(url)
    rss_before = _maxrss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    report = ingest_file(engine, path)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    engine.dispose()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rss_mb": _maxrss_mb(),
        "rss_before_mb": rss_before,
        "summary": {k: v for k, v in report.to_json().items() if k != "errors"},
        "warnings": report.warnings,
    }


def _boxes(n: int, points: list[tuple[float, float]]) -> list[tuple[tuple[float, ...], int]]:
    rng = random.Random(SEED)
    out = []
    for _ in range(n):
        lat, lon = rng.choice(points)
        lon0 = min(max(lon - rng.random(), -180.0), 179.0)
        lat0 = min(max(lat - rng.random(), -90.0), 89.0)
        out.append(((lon0, lat0, lon0 + 1.0, lat0 + 1.0), rng.randint(1989, 2018)))
    return out


def _old_2d_index(conn, postgis: bool):  # type: ignore[no-untyped-def]
    """The previous index as the peer in the same run: a 2-D R*Tree (lon, lat) on SQLite,
    GiST on the point alone on PostGIS, with the dates filtered on the rows afterwards.
    Returns a context manager that makes ``search_events`` use it."""
    from contextlib import contextmanager

    from sqlalchemy import Column, Float, Integer, MetaData, Table, select, text

    from tocsin.store import queries
    from tocsin.store import schema as s

    if not postgis:
        conn.execute(
            text(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.bench_rtree_2d USING "
                "rtree(id, min_lon, max_lon, min_lat, max_lat)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO temp.bench_rtree_2d SELECT id, longitude, longitude, latitude, "
                "latitude FROM events WHERE longitude IS NOT NULL AND latitude IS NOT NULL"
            )
        )
    old = Table(
        "bench_rtree_2d",
        MetaData(),
        *(Column(n, Float) for n in ("min_lon", "max_lon", "min_lat", "max_lat")),
        Column("id", Integer),
    )

    def prefilter_2d(boxes, days):  # type: ignore[no-untyped-def]
        w, so, e, n = boxes[0]
        ids = select(old.c.id).where(
            old.c.max_lon >= w, old.c.min_lon <= e, old.c.max_lat >= so, old.c.min_lat <= n
        )
        return s.events.c.id.in_(ids)

    @contextmanager
    def use():  # type: ignore[no-untyped-def]
        saved = queries._rtree_prefilter, queries._period_overlaps, queries._rtree_applies
        queries._rtree_prefilter = prefilter_2d
        queries._period_overlaps = lambda days: []
        queries._rtree_applies = lambda conn, query, scope: False  # no R*Tree-only fast path
        try:
            yield
        finally:
            queries._rtree_prefilter, queries._period_overlaps, queries._rtree_applies = saved

    return use


def worker_query(url: str, path: str) -> dict[str, object]:
    import contextlib

    import pandas as pd
    from sqlalchemy import select

    from tocsin.store import schema as s
    from tocsin.store.db import make_engine
    from tocsin.store.queries import EventQuery, Scope, count_events, search_events

    points = pd.read_csv(path, usecols=["latitude", "longitude"]).itertuples(index=False)
    boxes = _boxes(QUERIES, [(p.latitude, p.longitude) for p in points])
    engine = make_engine(url)
    scope = Scope.everything()
    out: dict[str, object] = {}
    with engine.connect() as conn:
        conn.execute(select(s.events.c.id).limit(1)).all()  # warm the connection
        old_index = _old_2d_index(conn, engine.dialect.name == "postgresql")
        # Alternate new and old query by query, so load on the shared machine hits both alike.
        series = {
            "new": {"page_ms": [], "count_ms": [], "page_cpu_ms": [], "hits": []},
            "old": {"page_ms": [], "count_ms": [], "page_cpu_ms": [], "hits": []},
        }
        for bbox, year in boxes:
            query = EventQuery(bbox=bbox, start=date(year, 1, 1), end=date(year, 12, 31))
            for name, ctx in (("new", contextlib.nullcontext), ("old", old_index)):
                r = series[name]
                with ctx():
                    t0, c0 = time.perf_counter(), time.process_time()
                    page = search_events(conn, query, scope, limit=50)
                    r["page_ms"].append((time.perf_counter() - t0) * 1000)
                    r["page_cpu_ms"].append((time.process_time() - c0) * 1000)
                    r["hits"].append(page.total)
                    t0 = time.perf_counter()
                    count_events(conn, query, scope)
                    r["count_ms"].append((time.perf_counter() - t0) * 1000)
        if series["new"]["hits"] != series["old"]["hits"]:
            raise SystemExit("old and new index disagree on the number of matches")
        out = series["new"] | {"old": series["old"]}
    engine.dispose()
    return out


def worker_pandas(path: str) -> dict[str, object]:
    import geopandas as gpd
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(path)
    df["date"] = pd.to_datetime(dict(year=df.year, month=df.month, day=df.day))
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.longitude, df.latitude), crs=4326)
    load = time.perf_counter() - t0
    boxes = _boxes(QUERIES, list(zip(df.latitude, df.longitude, strict=True)))
    ms, hits = [], []
    for (x0, y0, x1, y1), year in boxes:
        t0 = time.perf_counter()
        sub = gdf.cx[x0:x1, y0:y1]
        sub = sub[(sub.date >= f"{year}-01-01") & (sub.date <= f"{year}-12-31")]
        ms.append((time.perf_counter() - t0) * 1000)
        hits.append(len(sub))
    return {"seconds": load, "rss_mb": _maxrss_mb(), "query_ms": ms, "hits": hits}


def generate_large(path: Path, target_bytes: int) -> int:
    """A GED-like 49-column file of about ``target_bytes``, with realistic field widths."""
    header = (
        "id,relid,year,active_year,code_status,type_of_violence,conflict_dset_id,"
        "conflict_new_id,conflict_name,dyad_dset_id,dyad_new_id,dyad_name,side_a_dset_id,"
        "side_a_new_id,side_a,side_b_dset_id,side_b_new_id,side_b,number_of_sources,"
        "source_article,source_office,source_date,source_headline,source_original,where_prec,"
        "where_coordinates,where_description,adm_1,adm_2,latitude,longitude,geom_wkt,"
        "priogrid_gid,country,country_id,region,event_clarity,date_prec,date_start,date_end,"
        "deaths_a,deaths_b,deaths_civilians,deaths_unknown,best,high,low,gwnoa,gwnob\n"
    )
    rng = random.Random(SEED)
    article = "Agence Test,2020-01-01,Armed men attacked the village market and burned houses"
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        fh.write(header)
        written = len(header)
        while written < target_bytes:
            lat, lon = rng.uniform(-30, 40), rng.uniform(-20, 100)
            v = rng.choice((1, 2, 3))
            y, m, d = rng.randint(1990, 2022), rng.randint(1, 12), rng.randint(1, 28)
            best = int(rng.paretovariate(1.3))
            row = (
                f"{n},X-{n},{y},1,Clear,{v},1,1,Test conflict {n % 300},1,1,Test dyad,1,1,"
                f"Group {n % 500},2,2,{'Civilians' if v == 3 else f'Group {n % 211}'},1,"
                f'"{article} {n}",Agence Test,{y}-{m:02d}-{d:02d},Village attacked,,'
                f"{rng.randint(1, 6)},Town {n % 997},Town {n % 997} district,Province {n % 31},"
                f"District {n % 113},{lat:.5f},{lon:.5f},POINT ({lon:.5f} {lat:.5f}),,"
                f"Test Country,482,Africa,1,1,{y}-{m:02d}-{d:02d} 00:00:00.000,"
                f"{y}-{m:02d}-{d:02d} 00:00:00.000,0,0,{best},0,{best},{best + 2},{best},482,\n"
            )
            fh.write(row)
            written += len(row)
            n += 1
    return n


# --- orchestration --------------------------------------------------------------------------


def run_step(*args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median_run(runs: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="imports per backend (median)")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--large-gb", type=float, default=0.0, help="also stream a synthetic file")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        kind, *rest = args.worker
        result = {
            "ingest": lambda: worker_ingest(*rest),
            "query": lambda: worker_query(*rest),
            "pandas": lambda: worker_pandas(*rest),
        }[kind]()
        print(json.dumps(result))
        return

    if args.large_gb > 0:
        large_run(args.large_gb)
        return

    from tocsin.config import shared_data_dir

    source = shared_data_dir() / GLOBAL
    if not source.is_file():
        sys.exit(f"missing {source}: set TOCSIN_SHARED_DATA")
    started = time.perf_counter()
    load = os.getloadavg()
    results: dict[str, dict[str, object]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="tocsin-bench-ingest-"))

    backends: list[tuple[str, object]] = [("SQLite", None)]
    cluster = None
    if not args.skip_postgres:
        from tests.support.pgcluster import Cluster, find_bindir

        bindir = find_bindir()
        if bindir is None:
            sys.exit("PostgreSQL + PostGIS not installed (or pass --skip-postgres)")
        cluster = Cluster(bindir)
        cluster.start()
        backends.append(("PostGIS", cluster))

    try:
        for name, pg in backends:
            first, again = [], []
            url = ""
            for i in range(args.repeat):
                url = _fresh_url(name, pg, tmp, i)
                print(f"{name}: import {i + 1}/{args.repeat} ...", flush=True)
                first.append(run_step("ingest", url, str(source)))
                again.append(run_step("ingest", url, str(source)))
            print(f"{name}: queries ...", flush=True)
            results[name] = {
                "first": first,
                "again": again,
                "query": run_step("query", url, str(source)),
            }
        print("pandas + geopandas ...", flush=True)
        baseline = run_step("pandas", str(source))
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    markdown = _markdown(results, baseline, load, time.perf_counter() - started)
    print(markdown)
    write_section("ingest", markdown)


def _fresh_url(name: str, pg: object, tmp: Path, i: int) -> str:
    if pg is None:
        return f"sqlite:///{tmp / f'bench{i}.sqlite'}"
    from sqlalchemy import create_engine, text

    engine = create_engine(pg.url(), isolation_level="AUTOCOMMIT")  # type: ignore[attr-defined]
    with engine.connect() as conn:
        conn.execute(text(f"CREATE DATABASE bench{i}"))
    engine.dispose()
    return pg.url(f"bench{i}")  # type: ignore[attr-defined]


def large_run(gigabytes: float) -> None:
    load = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="tocsin-bench-large-"))
    try:
        big = tmp / "large_ged.csv"
        print(f"generating {gigabytes} GB ...", flush=True)
        rows = generate_large(big, int(gigabytes * 1e9))
        size = big.stat().st_size
        print(f"streaming {rows:,} rows into SQLite ...", flush=True)
        result = run_step("ingest", f"sqlite:///{tmp / 'large.sqlite'}", str(big))
        db_size = sum(p.stat().st_size for p in tmp.glob("large.sqlite*"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    summary = result["summary"]
    markdown = "\n".join(
        [
            "## Ingestion of a large file (`bench/ingest.py --large-gb N`)",
            "",
            f"Machine: {machine_info()}. Load average at start: {load[0]:.1f} / {load[1]:.1f} "
            f"/ {load[2]:.1f}.",
            "",
            f"A synthetic {size / 1e9:.2f} GB file in the 49-column GED layout ({rows:,} rows, "
            "generated by the benchmark) streamed into a fresh SQLite store in one transaction: "
            f"{result['seconds']:.0f} s ({rows / result['seconds']:,.0f} rows/s, "
            f"{result['cpu']:.0f} s CPU), {summary['inserted']:,} inserted, "
            f"{summary['rejected']} rejected; store size {db_size / 1e9:.2f} GB.",
            "",
            f"Peak RSS of the importing process: **{result['rss_mb']:.0f} MB** (the same process "
            f"before the import: {result['rss_before_mb']:.0f} MB). The CSV is read as a stream "
            "and written in batches of 5,000 events, so memory does not grow with the file.",
        ]
    )
    print(markdown)
    write_section("ingest_large", markdown)


def _markdown(results, baseline, load, total) -> str:  # type: ignore[no-untyped-def]
    lines = [
        "## Ingestion (`bench/ingest.py`)",
        "",
        f"Machine: {machine_info()}. Load average at start: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (the machine is shared; figures are "
        f"medians of the runs). Runtime: {total:.0f} s.",
        "",
        "Data: UCDP GED 21.1 global, precise locations (`ged211_global_precise_1989_2018.csv`, "
        "159,194 events, CC BY 4.0). Each step runs in a fresh process; peak RSS is that "
        "process's maximum resident set.",
        "",
        "| backend | full import (s) | events/s | CPU (s) | peak RSS (MB) | re-import (s) "
        "| re-import CPU (s) | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, res in results.items():
        first, again = res["first"], res["again"]
        n = first[0]["summary"]["read"]
        t_first, t_again = median_run(first, "seconds"), median_run(again, "seconds")
        target = "import < 30 s, re-import < 10 s" if name == "SQLite" else "(no target)"
        ok = ""
        if name == "SQLite":
            ok = " met" if t_first < 30 and t_again < 10 else " **missed**"
        lines.append(
            f"| {name} | {t_first:.1f} | {n / t_first:,.0f} | {median_run(first, 'cpu'):.1f} | "
            f"{median_run(first, 'rss_mb'):.0f} | {t_again:.1f} | "
            f"{median_run(again, 'cpu'):.1f} | {target}{ok} |"
        )
    summary = next(iter(results.values()))["first"][0]["summary"]
    lines += [
        "",
        f"Import result: {summary['inserted']:,} inserted, {summary['rejected']} rejected "
        f"(re-import: 0 inserted, 0 updated, all unchanged). Runs per backend: "
        f"{len(next(iter(results.values()))['first'])}.",
        "",
        f"Query latency over {QUERIES} random 1x1-degree boxes (around a random event) plus a "
        "one-year window, warm connection. The spatial index holds each event's period too "
        "(SQLite: 3-D R*Tree on lon, lat, day; PostGIS: GiST on the point and "
        "`daterange(date_start, date_end)`), so box + year is one index probe. The peer, "
        "queried alternately in the same process on the same boxes, is the previous 2-D "
        "index (lon/lat only, dates filtered on the rows); both return the same matches:",
        "",
        "| engine | query | p50 (ms) | p99 (ms) | median hits | target p99 < 20 ms |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, res in results.items():
        for variant, q in (("", res["query"]), (" (old 2-D index, peer)", res["query"]["old"])):
            hits = statistics.median(q["hits"])
            for label, key in (
                ("search_events, page of 50 + total", "page_ms"),
                ("count_events", "count_ms"),
            ):
                p99 = pct(q[key], 0.99)
                verdict = ("met" if p99 < 20 else "**missed**") if not variant else ""
                lines.append(
                    f"| {name}{variant} | {label} | {pct(q[key], 0.5):.1f} | {p99:.1f} | "
                    f"{hits:.0f} | {verdict} |"
                )
    cpu_notes = []
    for name, res in results.items():
        cpu, old_cpu = res["query"]["page_cpu_ms"], res["query"]["old"]["page_cpu_ms"]
        where = "Python and SQLite, in process" if name == "SQLite" else "client side only"
        cpu_notes.append(
            f"{name} {pct(cpu, 0.5):.1f} / {pct(cpu, 0.99):.1f} ms, old 2-D index "
            f"{pct(old_cpu, 0.5):.1f} / {pct(old_cpu, 0.99):.1f} ms ({where})"
        )
    lines.append(
        f"| pandas + geopandas (in memory) | `.cx` box + date mask | "
        f"{pct(baseline['query_ms'], 0.5):.1f} | {pct(baseline['query_ms'], 0.99):.1f} | "
        f"{statistics.median(baseline['hits']):.0f} | |"
    )
    lines += [
        "",
        "CPU time of the `search_events` call itself, p50 / p99 (independent of how busy the "
        "shared machine is; the wall-clock p99 above includes waiting for a core): "
        + "; ".join(cpu_notes)
        + ".",
        "",
        f"Baseline load: pandas `read_csv` + GeoDataFrame of the same file took "
        f"{baseline['seconds']:.1f} s at {baseline['rss_mb']:.0f} MB peak RSS, and must be "
        "repeated by every process that wants to query; the store is loaded once and queried "
        "from disk.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
