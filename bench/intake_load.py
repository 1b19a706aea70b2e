"""Intake durability under load: every acknowledged receipt must survive a kill -9.

    .venv/bin/python bench/intake_load.py            # ~2.5 minutes; writes BENCHMARKS.md
    .venv/bin/python bench/intake_load.py --quick    # shorter phases, no BENCHMARKS.md

What it does, on a fresh SQLite store in a temporary TOCSIN_HOME:

1. Starts ``tocsin serve --proxy-headers`` on 127.0.0.1 (one process, as deployed behind a
   reverse proxy). Each simulated reporter has its own X-Forwarded-For address, so the
   per-source rate limits apply as they would in production and do not throttle the benchmark.
2. Ramp: a few seconds at several concurrency levels (closed loop, keep-alive connections);
   the level with the highest throughput whose p99 stays under 2 s is used for the main run.
3. Main run: POST /api/v1/public/reports for 60 s at that level, recording every acknowledged
   (HTTP 201) receipt code. Half way through, the server gets SIGKILL; it is restarted at once
   and the load continues (requests fail while it is down; they were never acknowledged).
4. Counts: every acknowledged code is looked up by its keyed hash in the store (the same
   lookup as ``repository.find_by_receipt``); lost = acknowledged but absent. Also checks
   SQLite's integrity, that every report has its case row, and that the server log holds none
   of the simulated client addresses.
5. Baseline in the same run: the same load for a short phase with group commit disabled
   (``TOCSIN_INTAKE_MAX_BATCH=1``: one transaction per report), on its own fresh store.

The load generator is a minimal asyncio HTTP/1.1 client (no httpx) so that it takes little of
the 2 cores from the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import machine_info, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOCSIN = ROOT / ".venv" / "bin" / "tocsin"
PATH = "/api/v1/public/reports"
TARGET_RATE = 300.0


# -- a tiny HTTP/1.1 client -------------------------------------------------------------------


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, forwarded_for: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Forwarded-For: {forwarded_for}\r\n"
            f"User-Agent: intake-bench\r\n\r\n"
        ).encode() + body
        try:
            self.writer.write(request)
            await self.writer.drain()
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("closed")
            status = int(status_line.split()[1])
            length = 0
            close = False
            while True:
                line = await self.reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and "close" in value.lower():
                    close = True
            payload = await self.reader.readexactly(length) if length else b""
            if close:
                self.close()
            return status, payload
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            self.close()
            raise ConnectionError(str(exc)) from exc

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: int = 0  # connection errors (server down)


def _body(rng: random.Random, n: int) -> bytes:
    report = {
        "text": f"Armed men attacked the market at dawn; houses burned. Report {n}. "
        + "Witnesses saw two vehicles. " * rng.randint(1, 6),
        "occurred_on": "2026-11-19",
        "place_name": rng.choice(["Kaga Bandoro", "Bria", "Djugu", "Bentiu", "Kidal"]),
        "latitude": round(rng.uniform(-5, 15), 5),
        "longitude": round(rng.uniform(10, 35), 5),
        "threat": "attack_on_civilians",
        "language": rng.choice(["en", "fr", "ar"]),
    }
    if rng.random() < 0.5:
        report["contact"] = {"phone": f"+236 7{rng.randint(0, 9)} {rng.randint(100000, 999999)}"}
    return json.dumps(report).encode()


async def load(
    port: int, clients: int, duration: float, *, kill_at: float | None = None, on_kill=None
) -> tuple[Tally, float]:
    """Closed loop: ``clients`` connections each posting back to back for ``duration`` s."""
    tally = Tally()
    start = time.perf_counter()
    stop_at = start + duration
    counter = 0
    killed = False

    async def client(seed: int) -> None:
        nonlocal counter, killed
        rng = random.Random(seed)
        conn = Connection(port)
        while time.perf_counter() < stop_at:
            if kill_at is not None and not killed and time.perf_counter() - start >= kill_at:
                killed = True
                await on_kill()
            counter += 1
            body = _body(rng, counter)
            # A reporter address out of ~65k: each sends a handful, like real reporters.
            address = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            t0 = time.perf_counter()
            try:
                status, payload = await conn.post(PATH, body, address)
            except ConnectionError:
                tally.failures += 1
                await asyncio.sleep(0.05)
                continue
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status == 201:
                tally.latencies.append(time.perf_counter() - t0)
                tally.codes.append(json.loads(payload)["receipt_code"])
        conn.close()

    await asyncio.gather(*(client(i * 7919 + clients) for i in range(clients)))
    return tally, time.perf_counter() - start


# -- the server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: Path, port: int, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = port
        self.env = {
            **os.environ,
            "TOCSIN_HOME": str(home),
            "TOCSIN_DATABASE_URL": f"sqlite:///{home / 'tocsin.sqlite'}",
            **(extra_env or {}),
        }
        self.log = home / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        t0 = time.perf_counter()
        log = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(TOCSIN), "serve", "--port", str(self.port), "--proxy-headers"],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited; see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("server did not start in 90 s")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def warm_up(port: int) -> None:
    """The first report builds the intake service (keys, writer thread)."""
    asyncio.run(load(port, 2, 1.0))


# -- checks -----------------------------------------------------------------------------------


def verify(home: Path, codes: list[str]) -> dict[str, int | str]:
    """Acknowledged codes present in the store (by keyed hash), and store consistency."""
    from tocsin.intake.receipts import receipt_hash
    from tocsin.intake.service import load_intake_keys

    _keyring, pseudonymizer = load_intake_keys(home, env={})
    db = sqlite3.connect(home / "tocsin.sqlite")
    try:
        stored = {h for (h,) in db.execute("SELECT receipt_hash FROM intake_reports")}
        reports = db.execute("SELECT count(*) FROM intake_reports").fetchone()[0]
        orphans = db.execute(
            "SELECT count(*) FROM intake_reports r LEFT JOIN report_cases c "
            "ON c.report_id = r.id WHERE c.report_id IS NULL"
        ).fetchone()[0]
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()
    found = sum(1 for c in codes if receipt_hash(c, pseudonymizer) in stored)
    return {
        "acked": len(codes),
        "found": found,
        "lost": len(codes) - found,
        "stored": reports,
        "reports_without_case": orphans,
        "integrity": integrity,
    }


def log_leaks(log: Path) -> int:
    """Lines of the server log that contain a simulated client address (10.x.y.z)."""
    import re

    pattern = re.compile(r"\b10\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
    return sum(1 for line in log.read_text(errors="replace").splitlines() if pattern.search(line))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- phases -----------------------------------------------------------------------------------


def ramp(port: int, levels: list[int], seconds: float) -> tuple[int, list[dict]]:
    rows = []
    for clients in levels:
        tally, elapsed = asyncio.run(load(port, clients, seconds))
        rate = len(tally.codes) / elapsed
        p99 = pct(tally.latencies, 0.99)
        rows.append({"clients": clients, "rate": rate, "p99": p99, "other": tally.statuses})
        print(f"  ramp {clients:4d} clients: {rate:7.1f} reports/s, p99 {p99 * 1000:7.1f} ms")
    ok = [r for r in rows if r["p99"] < 2.0] or rows
    best = max(ok, key=lambda r: r["rate"])
    return best["clients"], rows


def main_run(home: Path, clients: int, duration: float) -> dict:
    port = _free_port()
    server = Server(home, port)
    server.start()
    warm_up(port)
    timeline: dict[str, float] = {}

    async def on_kill() -> None:
        t0 = time.perf_counter()
        server.kill9()
        timeline["killed_at"] = t0
        # Restart in a thread so the clients keep trying (and failing) meanwhile.
        timeline["restart_s"] = await asyncio.to_thread(server.start)

    try:
        tally, elapsed = asyncio.run(
            load(port, clients, duration, kill_at=duration / 2, on_kill=on_kill)
        )
    finally:
        server.stop()
    result = verify(home, tally.codes)
    result.update(
        clients=clients,
        elapsed=elapsed,
        rate=len(tally.codes) / elapsed,
        rate_up=len(tally.codes) / max(1e-9, elapsed - timeline.get("restart_s", 0.0)),
        p50=pct(tally.latencies, 0.5),
        p99=pct(tally.latencies, 0.99),
        failures=tally.failures,
        statuses=tally.statuses,
        restart_s=timeline.get("restart_s", float("nan")),
        log_leaks=log_leaks(server.log),
    )
    return result


def baseline_run(home: Path, clients: int, duration: float) -> dict:
    port = _free_port()
    server = Server(home, port, {"TOCSIN_INTAKE_MAX_BATCH": "1"})
    server.start()
    warm_up(port)
    try:
        tally, elapsed = asyncio.run(load(port, clients, duration))
    finally:
        server.stop()
    result = verify(home, tally.codes)
    result.update(
        rate=len(tally.codes) / elapsed,
        p50=pct(tally.latencies, 0.5),
        p99=pct(tally.latencies, 0.99),
        statuses=tally.statuses,
    )
    return result


def render(main: dict, base: dict, ramp_rows: list[dict], args: argparse.Namespace) -> str:
    met = "met" if main["rate_up"] >= TARGET_RATE else "NOT met"
    lines = [
        "## intake_load: durable public intake under load, with kill -9",
        "",
        f"Machine: {machine_info()}",
        "",
        "`bench/intake_load.py`: `tocsin serve` (one process) on 127.0.0.1 with a fresh SQLite "
        "store; closed-loop POST /api/v1/public/reports from simulated reporters (own "
        "X-Forwarded-For each); SIGKILL half way, immediate restart, load continues. "
        "Every acknowledged (201) receipt code is then looked up by its keyed hash.",
        "",
        "| ramp: clients | reports/s | p99 ms |",
        "|---:|---:|---:|",
        *[f"| {r['clients']} | {r['rate']:.0f} | {r['p99'] * 1000:.0f} |" for r in ramp_rows],
        "",
        "| run | clients | s | reports/s | p50 ms | p99 ms | acked | found | lost |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| group commit, kill -9 at {args.duration / 2:.0f} s | {main['clients']} | "
        f"{main['elapsed']:.0f} | {main['rate']:.0f} | {main['p50'] * 1000:.1f} | "
        f"{main['p99'] * 1000:.1f} | {main['acked']} | {main['found']} | **{main['lost']}** |",
        f"| baseline: one commit per report, no kill | {main['clients']} | {args.baseline:.0f} | "
        f"{base['rate']:.0f} | {base['p50'] * 1000:.1f} | {base['p99'] * 1000:.1f} | "
        f"{base['acked']} | {base['found']} | {base['lost']} |",
        "",
        f"- Rate over the run including the restart gap: {main['rate']:.0f}/s; while the server "
        f"was up: {main['rate_up']:.0f}/s. Target {TARGET_RATE:.0f}/s on SQLite: **{met}**.",
        f"- Restart after kill -9 took {main['restart_s']:.1f} s (process start, migrations "
        f"check, first request); {main['failures']} requests failed meanwhile (connection "
        "refused/reset: never acknowledged, so the reporter's app retries).",
        f"- Store after the run: {main['stored']} reports (acknowledged ones plus any committed "
        f"whose answer was cut by the kill), {main['reports_without_case']} without a case row, "
        f"SQLite integrity_check: {main['integrity']}.",
        f"- Server log lines containing a simulated client address: {main['log_leaks']}.",
        f"- Other answers (main run): {json.dumps(main['statuses'])}.",
        f"- Load average (1 min) at start / end of the benchmark: {args.load_before:.1f} / "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared: above "
        "~2 the figures are depressed by other work, not by the server alone).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="Main run, seconds.")
    parser.add_argument("--baseline", type=float, default=15.0, help="Baseline run, seconds.")
    parser.add_argument("--ramp-seconds", type=float, default=5.0)
    parser.add_argument("--levels", default="4,16,48,128", help="Ramp concurrency levels.")
    parser.add_argument("--quick", action="store_true", help="Short phases; no BENCHMARKS.md.")
    args = parser.parse_args()
    args.load_before = os.getloadavg()[0]
    if args.quick:
        args.duration, args.baseline, args.ramp_seconds = 12.0, 4.0, 2.0
    with tempfile.TemporaryDirectory(prefix="tocsin-intake-bench-") as tmp:
        tmp_path = Path(tmp)
        print("ramp")
        ramp_home = tmp_path / "ramp"
        ramp_home.mkdir()
        port = _free_port()
        server = Server(ramp_home, port)
        server.start()
        try:
            warm_up(port)
            clients, ramp_rows = ramp(
                port, [int(x) for x in args.levels.split(",")], args.ramp_seconds
            )
        finally:
            server.stop()
        print(f"main run: {clients} clients, {args.duration:.0f} s, kill -9 half way")
        main_home = tmp_path / "main"
        main_home.mkdir()
        result = main_run(main_home, clients, args.duration)
        print(json.dumps({k: v for k, v in result.items()}, default=str, indent=1))
        print(f"baseline (one commit per report): {args.baseline:.0f} s")
        base_home = tmp_path / "baseline"
        base_home.mkdir()
        base = baseline_run(base_home, clients, args.baseline)
        print(json.dumps(base, default=str, indent=1))
    markdown = render(result, base, ramp_rows, args)
    print(markdown)
    if not args.quick:
        write_section("intake_load", markdown)
    if result["lost"] or base["lost"]:
        raise SystemExit("acknowledged reports were lost")


if __name__ == "__main__":
    main()
