"""API latency and throughput under concurrent load, on SQLite and on PostGIS.

    .venv/bin/python bench/api_load.py [--duration 30] [--clients 50] [--rate 200]
                                       [--backends sqlite,postgis]

For each backend: import ``ucdp/ged211_global_precise_1989_2018.csv`` (~159k events) with the
ingest runner, mark every tenth event *restricted* (so reads exercise redaction and the audit
ledger, as a commander's would), start the real server (uvicorn, one process) on 127.0.0.1,
and drive it from a separate load-generator process (asyncio + httpx, keep-alive) as a
commander with an API token:

- ``search``: a 1x1-degree box around a real event plus that event's calendar year, 50 per page;
- ``record``: one event by uid;
- ``health``: ``/api/v1/health``, no database: the framework's own floor (baseline).

Two load shapes per scenario: *closed loop* (``--clients`` concurrent clients as fast as they
can, for ``--duration`` seconds: throughput) and *open loop* at ``--rate`` requests per second
(latency measured from each request's scheduled start, so queueing is not hidden). A second
baseline runs the same search and record reads directly against the store, in-process, without
HTTP. Figures go to BENCHMARKS.md (section ``api_load``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support.pgcluster
sys.path.insert(0, str(ROOT / "bench"))

DATA_FILE = "ucdp/ged211_global_precise_1989_2018.csv"
RESTRICTED_EVERY = 10


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(latencies_s: list[float], errors: int, elapsed: float) -> dict[str, float]:
    ms = [x * 1000 for x in latencies_s]
    return {
        "n": len(ms),
        "errors": errors,
        "rps": len(ms) / elapsed if elapsed else 0.0,
        "p50": percentile(ms, 50),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else float("nan"),
    }


# -- the load generator (runs in its own process) ---------------------------------------------


async def _closed_loop(base: str, headers: dict, paths: list[str], clients: int, duration: float):
    import httpx

    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    deadline = time.perf_counter() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as c:

        async def client(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                try:
                    r = await c.get(rng.choice(paths))
                    outcome = str(r.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                if outcome == "200":
                    latencies.append(time.perf_counter() - start)
                else:
                    errors += 1
                    kinds[outcome] = kinds.get(outcome, 0) + 1

        start = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - start
    return {**summary(latencies, errors, elapsed), "error_kinds": kinds}


async def _open_loop(
    base: str, headers: dict, paths: list[str], clients: int, rate: float, duration: float
):
    import httpx

    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    total = int(rate * duration)
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    gate = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as c:
        t0 = time.perf_counter() + 0.2

        async def one(i: int, path: str) -> None:
            nonlocal errors
            scheduled = t0 + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            async with gate:
                try:
                    r = await c.get(path)
                    outcome = str(r.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
            if outcome == "200":
                latencies.append(time.perf_counter() - scheduled)  # includes any queueing
            else:
                errors += 1
                kinds[outcome] = kinds.get(outcome, 0) + 1

        await asyncio.gather(*(one(i, rng.choice(paths)) for i in range(total)))
        elapsed = time.perf_counter() - t0
    return {**summary(latencies, errors, elapsed), "error_kinds": kinds}


def load_main(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.load).read_text())
    headers = {"Authorization": f"Bearer {spec['token']}"}
    if spec.get("rate"):
        args.rate = spec["rate"]
        result = asyncio.run(
            _open_loop(spec["base"], headers, spec["paths"], args.clients, args.rate, args.duration)
        )
    else:
        result = asyncio.run(
            _closed_loop(spec["base"], headers, spec["paths"], args.clients, args.duration)
        )
    print(json.dumps(result))


# -- the server (runs in its own process) -----------------------------------------------------


def serve_main(args: argparse.Namespace) -> None:
    import uvicorn

    from tocsin.api.app import create_app
    from tocsin.api.settings import Settings
    from tocsin.store.db import make_engine

    settings = Settings(home=Path(args.home))
    settings.rate_rules.clear()  # one client address sends everything here
    engine = make_engine(args.url)
    app = create_app(engine, settings)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        server_header=False,
        access_log=False,
        log_level="warning",
    )


# -- orchestration ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, home: Path, seed: int = 1) -> dict[str, Any]:
    """Imports the data, marks restricted events, creates the commander and the workload."""
    from sqlalchemy import func, select, text

    from tocsin import config
    from tocsin.ingest.runner import ingest_file
    from tocsin.security import tokens
    from tocsin.security import users as accounts
    from tocsin.security.audit import Actor
    from tocsin.security.keys import KeyRing
    from tocsin.security.passwords import Passwords
    from tocsin.security.policies import Role
    from tocsin.security.txn import write_transaction
    from tocsin.store import schema as s
    from tocsin.store.db import make_engine

    path = config.shared_data_dir() / DATA_FILE
    if not path.is_file():
        raise SystemExit(f"missing shared data file {path}")
    engine = make_engine(url)
    t = time.perf_counter()
    if engine.dialect.name == "postgresql":
        read = _ingest_in_parts(engine, path, home)
    else:
        read = ingest_file(engine, path).read
    ingest_s = time.perf_counter() - t
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE events SET sensitivity = 'restricted' WHERE id % {RESTRICTED_EVERY} = 0")
        )
        n = conn.scalar(select(func.count()).select_from(s.events))
        rows = conn.execute(
            select(
                s.events.c.uid, s.events.c.latitude, s.events.c.longitude, s.events.c.date_start
            ).where(s.events.c.latitude.is_not(None))
        ).all()
    keys = KeyRing(home)
    with write_transaction(engine) as conn:
        user, _ = accounts.create_user(
            conn,
            Passwords(),
            keys,
            username="commander",
            display_name="Bench Commander",
            role=Role.COMMANDER,
            password=secrets.token_urlsafe(24),  # never used to log in: the bench uses a token
            actor=Actor("bench"),
        )
        token, _ = tokens.issue(conn, user.id, "bench", ["read"], timedelta(days=1), Actor("bench"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    rng = random.Random(seed)
    sample = rng.sample(rows, 2000)
    searches = []
    for _, lat, lon, day in sample[:1000]:
        west, south = int(lon // 1), int(lat // 1)
        year = day.year if isinstance(day, date) else int(str(day)[:4])
        searches.append((west, south, west + 1, south + 1, year))
    uids = [r[0] for r in sample[1000:]]
    return {
        "events": n,
        "ingest_s": ingest_s,
        "ingest_read": read,
        "token": token,
        "searches": searches,
        "uids": uids,
    }


def _ingest_in_parts(engine: Any, path: Path, home: Path, rows_per_part: int = 20_000) -> int:
    """On a fresh PostgreSQL table one 159k-row transaction is super-linear (the writer's
    per-batch lookups run before any statistics exist and fall back to sequential scans), so
    the file is imported in parts, each its own transaction, with ANALYZE in between."""
    from sqlalchemy import text

    from tocsin.ingest.runner import ingest_file

    total = 0
    with path.open(encoding="utf-8", newline="") as src:
        header = src.readline()
        part = 0
        while True:
            lines = [line for _, line in zip(range(rows_per_part), src, strict=False)]
            if not lines:
                break
            chunk = home / f"part-{part}.csv"
            chunk.write_text(header + "".join(lines), encoding="utf-8")
            total += ingest_file(engine, chunk, "ucdp").read
            chunk.unlink()
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
            part += 1
    return total


def search_path(box: tuple) -> str:
    w, s_, e, n, year = box
    return f"/api/v1/events?bbox={w},{s_},{e},{n}&start={year}-01-01&end={year}-12-31&limit=50"


def direct_baseline(url: str, work: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The same reads straight against the store, no HTTP, no auth, no redaction, no audit."""
    from tocsin.domain.taxonomy import CaseClass, SensitivityTier
    from tocsin.store.db import make_engine
    from tocsin.store.queries import EventQuery, Scope, get_event, search_events

    engine = make_engine(url, migrate=False)
    scope = Scope.up_to(SensitivityTier.RESTRICTED, [CaseClass.GENERAL])
    out: dict[str, dict[str, float]] = {}
    with engine.connect() as conn:
        times = []
        for w, s_, e, n, year in work["searches"][:400]:
            q = EventQuery(bbox=(w, s_, e, n), start=date(year, 1, 1), end=date(year, 12, 31))
            t = time.perf_counter()
            search_events(conn, q, scope, limit=50)
            times.append(time.perf_counter() - t)
        out["search"] = summary(times, 0, sum(times))
        times = []
        for uid in work["uids"][:400]:
            t = time.perf_counter()
            get_event(conn, uid, scope)
            times.append(time.perf_counter() - t)
        out["record"] = summary(times, 0, sum(times))
    engine.dispose()
    return out


def run_load(spec_file: Path, clients: int, duration: float, rate: float | None) -> dict:
    spec = json.loads(spec_file.read_text())
    spec["rate"] = rate
    spec_file.write_text(json.dumps(spec))
    cmd = [
        sys.executable,
        __file__,
        "--load",
        str(spec_file),
        "--clients",
        str(clients),
        "--duration",
        str(duration),
    ]
    out = subprocess.run(
        cmd, check=True, capture_output=True, text=True, timeout=duration * 4 + 120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_backend(name: str, url: str, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    print(f"[{name}] importing {DATA_FILE} ...", flush=True)
    work = prepare(url, home)
    print(
        f"[{name}] {work['events']} events in {work['ingest_s']:.0f} s; direct baseline ...",
        flush=True,
    )
    direct = direct_baseline(url, work)
    port = _free_port()
    env = {**os.environ, "TOCSIN_HOME": str(home)}
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            "--home",
            str(home),
            "--url",
            url,
            "--port",
            str(port),
        ],
        env=env,
    )
    results: dict[str, Any] = {
        "events": work["events"],
        "ingest_s": work["ingest_s"],
        "direct": direct,
        "http": {},
    }
    try:
        import httpx

        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.3)
        results["loadavg"] = f"{os.getloadavg()[0]:.1f}"
        scenarios = {
            "health": ["/api/v1/health"],
            "search": [search_path(b) for b in work["searches"]],
            "record": [f"/api/v1/events/{u}" for u in work["uids"]],
        }
        with tempfile.TemporaryDirectory() as tmp:
            for scenario, paths in scenarios.items():
                spec = Path(tmp) / f"{scenario}.json"
                spec.write_text(json.dumps({"base": base, "token": work["token"], "paths": paths}))
                for mode, rate in (("closed", None), ("open", args.rate)):
                    print(f"[{name}] {scenario} {mode} loop ...", flush=True)
                    r = run_load(spec, args.clients, args.duration, rate)
                    results["http"][f"{scenario}/{mode}"] = r
                    print(f"[{name}]   {r}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def render(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    from _report import machine_info

    lines = [
        "## API under load (`bench/api_load.py`)",
        "",
        f"Machine: {machine_info()}. Server: one uvicorn process on 127.0.0.1; load generator "
        f"(asyncio + httpx) in a separate process on the same 2 cores. Data: "
        f"`{DATA_FILE}` imported with the ingest runner, every {RESTRICTED_EVERY}th event marked "
        "restricted; requests as a *commander* with an API token (scoped query, redaction, "
        "restricted reads audited in the ledger). Search = 1x1-degree box + one calendar year, "
        "50 per page. Closed loop: "
        f"{args.clients} clients for {args.duration:.0f} s; open loop: {args.rate:.0f} req/s for "
        f"{args.duration:.0f} s, latency from the scheduled start. Target: p99 < 100 ms at "
        "200 req/s.",
        "",
        "| backend | scenario | load | req/s | p50 ms | p90 ms | p99 ms | errors |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, res in results.items():
        for key, r in res["http"].items():
            scenario, mode = key.split("/")
            load = f"{args.clients} clients" if mode == "closed" else f"{args.rate:.0f} req/s"
            lines.append(
                f"| {backend} | {scenario} | {load} | {r['rps']:.0f} | {r['p50']:.1f} | "
                f"{r['p90']:.1f} | {r['p99']:.1f} | {r['errors']} |"
            )
    at_rate = [
        (backend, key.split("/")[0], r["p99"])
        for backend, res in results.items()
        for key, r in res["http"].items()
        if key.endswith("/open") and not key.startswith("health")
    ]
    met = all(p99 < 100 for _, _, p99 in at_rate) and bool(at_rate)
    loads = ", ".join(f"{b}: {res.get('loadavg', '?')}" for b, res in results.items())
    lines += [
        "",
        f"**Target {'met' if met else 'NOT met'}.** "
        + "; ".join(
            f"{b} {sc}: p99 {p99:.0f} ms at {args.rate:.0f} req/s" for b, sc, p99 in at_rate
        )
        + f". Load average (1 min) at the start of each backend's HTTP runs: {loads}; the "
        "machine is shared, so these are figures under contention, not a clean machine's.",
        "An open loop beyond capacity keeps queueing: its latencies there measure the backlog, "
        "and the closed-loop req/s is the capacity. Each search hydrates 50 full events "
        "(actors, sources, victims) and is audited when it returns restricted cases (most do "
        "here), one write per request.",
    ]
    lines += [
        "",
        "Baseline without HTTP (same queries, store functions called directly, one thread):",
        "",
        "| backend | events | import s | query | p50 ms | p99 ms |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for backend, res in results.items():
        for query, r in res["direct"].items():
            lines.append(
                f"| {backend} | {res['events']} | {res['ingest_s']:.0f} | {query} | "
                f"{r['p50']:.2f} | {r['p99']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--backends", default="sqlite,postgis")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    # internal modes
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args)
        return
    if args.serve:
        serve_main(args)
        return

    from _report import write_section

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="tocsin-apibench-") as tmp:
        for backend in args.backends.split(","):
            home = Path(tmp) / backend
            home.mkdir()
            os.environ["TOCSIN_HOME"] = str(home)
            if backend == "sqlite":
                results[backend] = bench_backend(
                    backend, f"sqlite:///{home / 'tocsin.sqlite'}", home, args
                )
            elif backend == "postgis":
                from tests.support.pgcluster import Cluster, find_bindir

                bindir = find_bindir()
                if bindir is None:
                    print("PostgreSQL + PostGIS not installed; skipping postgis", flush=True)
                    continue
                cluster = Cluster(bindir)
                cluster.start()
                try:
                    from sqlalchemy import create_engine, text

                    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
                    with admin.connect() as conn:
                        conn.execute(text("CREATE DATABASE tocsin_bench"))
                    admin.dispose()
                    results[backend] = bench_backend(
                        backend, cluster.url("tocsin_bench"), home, args
                    )
                finally:
                    cluster.stop()
            else:
                raise SystemExit(f"unknown backend {backend!r}")
    text_md = render(results, args)
    print(text_md)
    if not args.no_write:
        write_section("api_load", text_md)


if __name__ == "__main__":
    main()
