"""API latency and throughput under concurrent load, on SQLite and on PostGIS.

    .venv/bin/python bench/api_load.py [--duration 30] [--clients 50] [--rates 50,100,200]
        [--backends sqlite,postgis] [--scenarios health,search,record] [--workers 2]
        [--tcp-nodelay] [--peer-src /tmp/base/src --peer-label HEAD] [--no-write]

``--peer-src`` serves the same prepared database with other code (e.g. ``git worktree add
/tmp/base HEAD``) in the same run, as the baseline; ``--tcp-nodelay`` works around uvicorn's
multi-worker Nagle delay (see ``_nodelay_h11``).

For each backend: import ``ucdp/ged211_global_precise_1989_2018.csv`` (~159k events) with the
ingest runner, mark every tenth event *restricted* (so reads exercise redaction and the audit
ledger, as a commander's would), start the real server (uvicorn, one process) on 127.0.0.1,
and drive it from a separate load-generator process (asyncio streams, keep-alive) as a
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
import resource
import secrets
import socket
import statistics
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
#
# A minimal HTTP/1.1 keep-alive client on asyncio streams, not httpx: on this 2-core machine
# the client shares the cores with the server, and httpx spends ~3 ms of CPU per request
# (measured: 0.43 s CPU for 150 health requests), which at 200 req/s is most of a core taken
# from the server under test. This client spends tens of microseconds per request. It speaks
# only what the bench needs: GET, a Content-Length body (uvicorn sends one for every JSON
# response here), keep-alive connections from a small pool.


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def get(self, request_head: bytes) -> int:
        """Sends one GET, reads the whole response; returns the status code."""
        self.writer.write(request_head)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
                break
        else:
            raise ValueError("response without Content-Length")
        await self.reader.readexactly(length)
        return status


class Client:
    """A pool of keep-alive connections to one server, at most ``size`` at once."""

    def __init__(self, base: str, headers: dict[str, str], size: int) -> None:
        host_port = base.split("://", 1)[1].rstrip("/")
        self.host, _, port = host_port.partition(":")
        self.port = int(port or 80)
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head = f"Host: {host_port}\r\n{extra}\r\n".encode()
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(size)

    async def get(self, path: str) -> str:
        """The status code as text, or the exception's name (a transport error)."""
        request = b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._head
        async with self._slots:
            while True:
                conn = self._idle.pop() if self._idle else None
                reused = conn is not None
                try:
                    if conn is None:
                        conn = Connection(*await asyncio.open_connection(self.host, self.port))
                    status = await asyncio.wait_for(conn.get(request), 30)
                except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    if conn is not None:
                        conn.writer.close()
                    if reused and isinstance(exc, (asyncio.IncompleteReadError, OSError)):
                        # The server closed an idle keep-alive connection (uvicorn's keep-alive
                        # timeout is 5 s): retry the GET on another, as any HTTP client does.
                        continue
                    return type(exc).__name__
                self._idle.append(conn)
                return str(status)

    def close(self) -> None:
        for conn in self._idle:
            conn.writer.close()


async def _closed_loop(base: str, headers: dict, paths: list[str], clients: int, duration: float):
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    deadline = time.perf_counter() + duration
    http = Client(base, headers, clients)

    async def client(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            outcome = await http.get(rng.choice(paths))
            if outcome == "200":
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1
                kinds[outcome] = kinds.get(outcome, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - start
    http.close()
    return {**summary(latencies, errors, elapsed), "error_kinds": kinds}


async def _open_loop(
    base: str, headers: dict, paths: list[str], clients: int, rate: float, duration: float
):
    """Open loop: request i is due at t0 + i/rate whatever happened to the earlier ones, and
    its latency runs from that due time (no coordinated omission: a stalled server is charged
    for the requests it delayed). At most ``clients`` requests are in flight; the rest wait
    their turn with their clock running."""
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    total = int(rate * duration)
    rng = random.Random(7)
    http = Client(base, headers, clients)
    lag: list[float] = []  # how late the dispatcher itself was: the client's own overhead

    async def one(scheduled: float, path: str) -> None:
        nonlocal errors
        outcome = await http.get(path)
        if outcome == "200":
            latencies.append(time.perf_counter() - scheduled)  # includes any queueing
        else:
            errors += 1
            kinds[outcome] = kinds.get(outcome, 0) + 1

    t0 = time.perf_counter() + 0.2
    tasks = []
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lag.append(time.perf_counter() - scheduled)
        tasks.append(asyncio.create_task(one(scheduled, rng.choice(paths))))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    http.close()
    lag_ms = [x * 1000 for x in lag]
    return {
        **summary(latencies, errors, elapsed),
        "error_kinds": kinds,
        "dispatch_lag_p99": percentile(lag_ms, 99),
    }


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
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # The client's own CPU, as a share of one core over the run: what it took from the server.
    result["client_cpu"] = (usage.ru_utime + usage.ru_stime) / max(args.duration, 1e-9)
    print(json.dumps(result))


# -- the server (runs in its own process) -----------------------------------------------------


def make_app():  # noqa: ANN201 - the ASGI app, built in each uvicorn worker process
    from tocsin.api.app import create_app
    from tocsin.api.settings import Settings
    from tocsin.store.db import make_engine

    settings = Settings(home=Path(os.environ["TOCSIN_HOME"]))
    settings.rate_rules.clear()  # one client address sends everything here
    # migrate=False: the orchestrator migrated the database already, and a peer's older code
    # would not know this tree's newer revisions.
    return create_app(make_engine(os.environ["TOCSIN_BENCH_URL"], migrate=False), settings)


def _nodelay_h11() -> type:
    """uvicorn's h11 protocol with TCP_NODELAY set on each accepted connection.

    With ``--workers N`` uvicorn binds the listening socket itself with ``proto=0``; accepted
    sockets inherit that, and asyncio then skips TCP_NODELAY (it only sets it for
    ``proto == IPPROTO_TCP``). Nagle's algorithm plus the client's delayed ACK then adds ~40 ms
    to every keep-alive request after the first (uvicorn issue #3149; measured here: health
    2 ms with one worker, 45-50 ms with two)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class NoDelayH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)

    return NoDelayH11Protocol


def __getattr__(name: str) -> type:  # the protocol class, imported by uvicorn by name
    if name == "NoDelayH11Protocol":
        return _nodelay_h11()
    raise AttributeError(name)


def _protocol_options(tcp_nodelay: bool) -> dict[str, Any]:
    """The HTTP protocol and event loop the served code's own ``tocsin serve`` uses, so each
    tree is measured as it is deployed; code from before ``uvicorn_protocol_options`` (e.g. an
    older peer) served with h11 on asyncio as its ``tocsin serve`` did."""
    try:
        from tocsin.api.tcp import uvicorn_protocol_options
    except ImportError:
        return {"http": "api_load:NoDelayH11Protocol" if tcp_nodelay else "h11"}
    return uvicorn_protocol_options()


def serve_main(args: argparse.Namespace) -> None:
    import uvicorn

    os.environ["TOCSIN_BENCH_URL"] = args.url
    os.environ["TOCSIN_HOME"] = args.home
    # Several worker processes (one per core): the request path is CPU-bound Python, so one
    # process uses one core at most. Each worker builds its own engine and connection pool.
    uvicorn.run(
        "api_load:make_app",
        factory=True,
        workers=args.workers,
        host="127.0.0.1",
        port=args.port,
        server_header=False,
        **_protocol_options(args.tcp_nodelay),
        access_log=False,
        log_level="warning",
    )


# -- orchestration ----------------------------------------------------------------------------


def _server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of the server process and its worker processes so far."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
    except psutil.NoSuchProcess:
        pass
    return total


def _postgres_cpu_s(datadir: str | None) -> float | None:
    """CPU seconds of the PostgreSQL cluster's server processes so far (None for SQLite,
    which runs inside the server processes and is counted there)."""
    import psutil

    if datadir is None:
        return None
    try:
        postmaster = int((Path(datadir) / "postmaster.pid").read_text().split()[0])
        return _server_cpu_s(postmaster)
    except (OSError, ValueError, psutil.Error):
        return None


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
    results: dict[str, Any] = {
        "events": work["events"],
        "ingest_s": work["ingest_s"],
        "direct": direct,
        "http": {},
        "loadavg": {},
    }
    scenarios = {
        "health": ["/api/v1/health"],
        "search": [search_path(b) for b in work["searches"]],
        "record": [f"/api/v1/events/{u}" for u in work["uids"]],
    }
    scenarios = {k: v for k, v in scenarios.items() if k in args.scenarios}
    codes = [("this", None)] + ([("peer", args.peer_src)] if args.peer_src else [])
    for code, src_dir in codes:
        _bench_server(name, url, home, args, work, scenarios, code, src_dir, results)
    if args.repeat and args.peer_src:
        results["repeat"] = _alternate(name, url, home, args, work)
    return results


def _start_server(
    url: str, home: Path, args: argparse.Namespace, src_dir: str | None
) -> tuple[subprocess.Popen, str]:
    """A server process on a free port, this tree's code or the peer's (``src_dir`` first on
    PYTHONPATH), once it answers /health."""
    import httpx

    port = _free_port()
    env = {**os.environ, "TOCSIN_HOME": str(home)}
    if src_dir:
        env["PYTHONPATH"] = os.pathsep.join([src_dir, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
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
            "--workers",
            str(args.workers),
            *(["--tcp-nodelay"] if args.tcp_nodelay else []),
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.terminate()
            raise SystemExit("server did not start")
        time.sleep(0.3)


def _measured_load(
    server: subprocess.Popen, spec: Path, args: argparse.Namespace, rate: float | None
) -> dict[str, Any]:
    """One load run, with the server's and PostgreSQL's CPU time per answered request:
    comparable across runs at different load averages, unlike latency (a busy machine lends
    less CPU)."""
    datadir = getattr(args, "pg_datadir", None)
    cpu_before, db_before = _server_cpu_s(server.pid), _postgres_cpu_s(datadir)
    r = run_load(spec, args.clients, args.duration, rate)
    cpu_after, db_after = _server_cpu_s(server.pid), _postgres_cpu_s(datadir)
    served = r["n"] + r["errors"]
    r["server_cpu_ms"] = 1000 * (cpu_after - cpu_before) / served if served else None
    r["db_cpu_ms"] = (
        1000 * (db_after - db_before) / served
        if served and db_before is not None and db_after is not None
        else None
    )
    return r


def speed_probe() -> float:
    """CPU seconds of a fixed Python loop: how fast the (shared) machine runs right now. A
    slow phase shows here before it shows in any latency."""
    start = time.process_time()
    sum(i * i for i in range(3_000_000))
    return time.process_time() - start


def _alternate(
    name: str, url: str, home: Path, args: argparse.Namespace, work: dict[str, Any]
) -> list[dict[str, Any]]:
    """``--repeat N``: this tree and the peer both serving at once, the open-loop search at the
    target rate run N times on each, alternating which goes first. One run per tree says
    little on a machine whose speed varies from minute to minute; N pairs give medians."""
    rate = max(args.rates)
    paths = [search_path(b) for b in work["searches"]]
    servers = {}
    runs: list[dict[str, Any]] = []
    try:
        for code, src_dir in (("this", None), ("peer", args.peer_src)):
            servers[code] = _start_server(url, home, args, src_dir)
        with tempfile.TemporaryDirectory() as tmp:
            specs = {}
            for code, (_, base) in servers.items():
                specs[code] = Path(tmp) / f"{code}.json"
                specs[code].write_text(
                    json.dumps({"base": base, "token": work["token"], "paths": paths})
                )
                # Warm-up at the target rate: 5 s is ~500 requests per worker, past the
                # one-time re-freeze after each worker's 200th request (ADR 0012), which
                # would otherwise fall inside the first measured run.
                run_load(specs[code], args.clients, 5, rate)
            for i in range(args.repeat):
                order = ("this", "peer") if i % 2 == 0 else ("peer", "this")
                for code in order:
                    probe = speed_probe()
                    r = _measured_load(servers[code][0], specs[code], args, rate)
                    r.update(code=code, round=i, speed_probe_s=probe)
                    runs.append(r)
                    print(f"[{name}/repeat {i}/{code}] {r}", flush=True)
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=30)
    return runs


def _bench_server(
    name: str,
    url: str,
    home: Path,
    args: argparse.Namespace,
    work: dict[str, Any],
    scenarios: dict[str, list[str]],
    code: str,
    src_dir: str | None,
    results: dict[str, Any],
) -> None:
    """Serves the prepared database with this tree's code, or with the peer's (``src_dir``
    first on PYTHONPATH: e.g. a ``git worktree`` of the last commit), and drives it."""
    server, base = _start_server(url, home, args, src_dir)
    try:
        results["loadavg"][code] = f"{os.getloadavg()[0]:.1f}"
        with tempfile.TemporaryDirectory() as tmp:
            for scenario, paths in scenarios.items():
                spec = Path(tmp) / f"{scenario}.json"
                spec.write_text(json.dumps({"base": base, "token": work["token"], "paths": paths}))
                loads = [("closed", None)] + [(f"open@{rate:g}", rate) for rate in args.rates]
                for mode, rate in loads:
                    print(f"[{name}/{code}] {scenario} {mode} loop ...", flush=True)
                    r = _measured_load(server, spec, args, rate)
                    results["http"][f"{code}/{scenario}/{mode}"] = r
                    print(f"[{name}/{code}]   {r}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


def render(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    from _report import machine_info

    lines = ["## API under load (`bench/api_load.py`)", ""]
    if args.notes:
        # The run's own account (what changed, where the time went): kept with its figures.
        lines += [Path(args.notes).read_text(encoding="utf-8").strip(), ""]
    lines += [
        f"Machine: {machine_info()}. Server: uvicorn with {args.workers} worker processes on "
        "127.0.0.1; load generator (a minimal asyncio HTTP/1.1 client, keep-alive) in a "
        "separate process on the same 2 cores; *server CPU ms/req* is the CPU time of the server "
        "processes per request answered (the cost of a request, less sensitive to the machine's "
        "load than latency), *PostgreSQL CPU ms/req* that of the PostgreSQL cluster's processes "
        "(on SQLite the database runs inside the server processes); *client CPU* is the load "
        "generator's CPU time as a share of one core, *lag* its p99 delay in sending a request "
        "at its scheduled time (a lag "
        "means the machine, not the server, delayed the request). Data: "
        f"`{DATA_FILE}` imported with the ingest runner, every {RESTRICTED_EVERY}th event marked "
        "restricted; requests as a *commander* with an API token (scoped query, redaction, "
        "restricted reads audited in the ledger). Search = 1x1-degree box + one calendar year, "
        "50 per page. Closed loop: "
        f"{args.clients} clients for {args.duration:.0f} s; open loop at each offered rate "
        f"({', '.join(f'{r:g}' for r in args.rates)} req/s) for {args.duration:.0f} s, latency "
        "from the scheduled start. Target: p99 < 100 ms at 200 req/s.",
        "",
        "| backend | code | scenario | load | req/s | p50 ms | p90 ms | p99 ms | errors "
        "| server CPU ms/req | PostgreSQL CPU ms/req | client CPU | lag p99 ms |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for backend, res in results.items():
        for key, r in res["http"].items():
            code, scenario, mode = key.split("/")
            label = "this tree" if code == "this" else args.peer_label
            load = f"{args.clients} clients" if mode == "closed" else f"{mode[5:]} req/s offered"
            lag = r.get("dispatch_lag_p99")
            cpu = r.get("server_cpu_ms")
            db_cpu = r.get("db_cpu_ms")
            lines.append(
                f"| {backend} | {label} | {scenario} | {load} | {r['rps']:.0f} | "
                f"{r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | {r['errors']} | "
                f"{'-' if cpu is None else f'{cpu:.2f}'} | "
                f"{'-' if db_cpu is None else f'{db_cpu:.2f}'} | "
                f"{r.get('client_cpu', float('nan')):.0%} | "
                f"{'-' if lag is None else f'{lag:.1f}'} |"
            )
    target = max(args.rates)
    at_rate = [
        (backend, key.split("/")[1], r["p99"])
        for backend, res in results.items()
        for key, r in res["http"].items()
        if key.startswith("this/")
        and key.endswith(f"/open@{target:g}")
        and not key.startswith("this/health")
    ]
    met = all(p99 < 100 for _, _, p99 in at_rate) and bool(at_rate)
    loads = ", ".join(
        f"{b}/{'this tree' if code == 'this' else args.peer_label}: {avg}"
        for b, res in results.items()
        for code, avg in res["loadavg"].items()
    )
    lines += [
        "",
        f"**Target {'met' if met else 'NOT met'} (this tree).** "
        + "; ".join(f"{b} {sc}: p99 {p99:.0f} ms at {target:g} req/s" for b, sc, p99 in at_rate)
        + f". Load average (1 min) at the start of each server's runs: {loads}; the "
        "machine is shared, so these are figures under contention, not a clean machine's.",
        "An open loop beyond capacity keeps queueing: its latencies there measure the backlog, "
        "and the closed-loop req/s is the capacity. Each search hydrates 50 full events "
        "(actors, sources, victims) and is audited when it returns restricted cases (most do "
        "here): the entries of concurrent reads are committed together by each worker's ledger "
        "writer (group commit, ADR 0008), and each response waits for its own entry's commit. "
        "The first page of a box search is one statement on both backends (page and total in "
        "one pass over the index matches, joined to their events rows); list pages read all "
        "child tables in one statement (ids as one array parameter, statements built once) and "
        "build each record straight from the rows (ADR 0009) before the same redaction, "
        "serialised without response-model validation at run time (ADR 0010).",
        "Server sockets: "
        + (
            "TCP_NODELAY set on each connection (`--tcp-nodelay`)."
            if args.tcp_nodelay
            else "uvicorn defaults; with several workers Nagle's algorithm stays on (uvicorn "
            "issue #3149), which adds ~40 ms to every keep-alive request after the first."
        ),
    ]
    lines += _render_repeats(results, args)
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


def _render_repeats(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> list[str]:
    if not any(res.get("repeat") for res in results.values()):
        return []
    rate = max(args.rates)
    lines = [
        "",
        f"Repeated runs (`--repeat {args.repeat}`): this tree and the peer serving at once, the "
        f"search open loop at {rate:g} req/s for {args.duration:.0f} s on each in turn, "
        "alternating which goes first; *speed probe* is the CPU seconds of a fixed Python loop "
        "taken before each run (lower is faster; the machine's own speed, whatever the code).",
        "",
        "| backend | code | p99 ms of each run | median p99 | runs under 100 ms "
        "| median server CPU ms/req | median PostgreSQL CPU ms/req | speed probe s |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for backend, res in results.items():
        for code in ("this", "peer"):
            runs = [r for r in res.get("repeat", []) if r["code"] == code]
            if not runs:
                continue
            p99s = [r["p99"] for r in runs]
            cpu = [r["server_cpu_ms"] for r in runs if r["server_cpu_ms"] is not None]
            db = [r["db_cpu_ms"] for r in runs if r["db_cpu_ms"] is not None]
            label = "this tree" if code == "this" else args.peer_label
            each = ", ".join(f"{p:.0f}" for p in p99s)
            probes = ", ".join(f"{r['speed_probe_s']:.2f}" for r in runs)
            db_median = f"{statistics.median(db):.2f}" if db else "-"
            lines.append(
                f"| {backend} | {label} | {each} | {statistics.median(p99s):.0f} | "
                f"{sum(p < 100 for p in p99s)} of {len(p99s)} | {statistics.median(cpu):.2f} | "
                f"{db_median} | {probes} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--rates",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[50.0, 100.0, 200.0],
        help="offered rates of the open loop, req/s (the target is judged at the largest)",
    )
    parser.add_argument("--backends", default="sqlite,postgis")
    parser.add_argument(
        "--scenarios",
        type=lambda v: v.split(","),
        default=["health", "search", "record"],
        help="comma-separated subset of health,search,record",
    )
    parser.add_argument(
        "--peer-src",
        help="a src/ directory of other code (e.g. a git worktree of HEAD) to serve the same "
        "database with, as the peer in the same run",
    )
    parser.add_argument("--peer-label", default="HEAD", help="name of the peer in the table")
    parser.add_argument(
        "--tcp-nodelay",
        action="store_true",
        help="serve with TCP_NODELAY on every connection (works around uvicorn issue #3149: "
        "with --workers N, Nagle's algorithm adds ~40 ms per keep-alive request)",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--repeat",
        type=int,
        default=0,
        help="with --peer-src: N alternating runs of each tree at the target rate (medians)",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    parser.add_argument(
        "--notes", help="a Markdown file put at the top of the section (the run's own account)"
    )
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
                args.pg_datadir = str(cluster.datadir)
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
