"""Page load of the incident map with 50,000 incidents, in headless Chromium.

    .venv/bin/python bench/map_load.py [--events 50000] [--runs 5] [--no-write]

Setup: a fresh SQLite database; a random sample (fixed seed) of ``--events`` rows of
``ucdp/ged211_global_precise_1989_2018.csv`` (real, clustered locations) imported with the ingest
runner; the real app (`tocsin serve`, in its own process) on 127.0.0.1; a partner account (public
tier, the sample is public) signed in through the login form once.

Each run opens a fresh browser context (cold cache, the session cookie only) and loads
``/map``. "First render" is the ``tocsin:map-rendered`` performance mark of
``static/js/map.js``, taken after the clusters are on the map, measured from navigation start;
"data" is the ``tocsin:data-loaded`` mark (the GeoJSON fetched and parsed). Three scenarios in
the same run, medians over ``--runs``:

- **clustered**: the page as shipped, 50k incidents, Leaflet.markercluster;
- **unclustered** (baseline): the same page and data with the clustering library replaced by a
  plain feature group (every incident drawn as its own canvas circle), via request
  interception: nothing in the product changes;
- **empty** (baseline): the same page with a filter that matches nothing: the cost of the page,
  Leaflet and the basemap alone.

Plus the server side alone, timed with httpx (medians): the compact arrays the map loads
(``GET /map/events.json``, with and without gzip) against the GeoJSON it loaded before
(``GET /map/events.geojson``, still served for other clients).
Figures go to BENCHMARKS.md (section ``map_load``). Target: clustered first render under 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from _report import machine_info, write_section  # noqa: E402

DATA_FILE = "ucdp/ged211_global_precise_1989_2018.csv"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Server-side responses timed alone: (path, Accept-Encoding).
WIRE = {
    "GeoJSON `/map/events.geojson` (before)": ("/map/events.geojson", "identity"),
    "compact `/map/events.json`": ("/map/events.json", "identity"),
    "compact `/map/events.json`, gzip": ("/map/events.json", "gzip"),
}
PASSWORD = "plover-quantum-ledger-47"  # noqa: S105 - a throwaway benchmark account
NO_CLUSTER_SHIM = """
L.markerClusterGroup = function (options) {
  var group = L.featureGroup();
  group.options = options || {};
  group.addLayers = function (layers) {
    for (var i = 0; i < layers.length; i++) { group.addLayer(layers[i]); }
    if (group.options.chunkProgress) {
      group.options.chunkProgress(layers.length, layers.length, 0);
    }
    return group;
  };
  return group;
};
"""


def sample_csv(source: Path, n: int, out: Path, seed: int = 7) -> int:
    lines = source.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    chosen = random.Random(seed).sample(rows, min(n, len(rows)))
    out.write_text("\n".join([header, *chosen]) + "\n", encoding="utf-8")
    return len(chosen)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(home: Path, database_url: str) -> tuple[str, subprocess.Popen]:
    """``tocsin serve`` in its own process, as in production (not a thread of this one, where
    it would share the interpreter with the browser driver)."""
    port = free_port()
    env = {**os.environ, "TOCSIN_HOME": str(home), "TOCSIN_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "tocsin"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                return base, process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not start")


def one_load(browser: Any, url: str, state: dict, shim: bool) -> dict[str, float]:
    context = browser.new_context(storage_state=state, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        if shim:
            page.route(
                "**/leaflet.markercluster.js",
                lambda route: route.fulfill(
                    status=200, content_type="text/javascript", body=NO_CLUSTER_SHIM
                ),
            )
        page.goto(url, wait_until="commit")
        page.wait_for_selector("#map[data-state='ready']", timeout=120_000)
        marks = page.evaluate(
            """() => Object.fromEntries(performance.getEntriesByType('mark')
                 .map(m => [m.name, m.startTime]))"""
        )
        markers = int(page.locator("#map").get_attribute("data-markers") or 0)
        return {
            "rendered_ms": marks["tocsin:map-rendered"],
            "data_ms": marks.get("tocsin:data-loaded", float("nan")),
            "script_ms": marks["tocsin:map-start"],
            "markers": markers,
        }
    finally:
        context.close()


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    args = parser.parse_args()

    import httpx
    from playwright.sync_api import sync_playwright

    from tocsin import config
    from tocsin.ingest.runner import ingest_file
    from tocsin.security.audit import Actor
    from tocsin.security.keys import KeyRing
    from tocsin.security.passwords import Passwords
    from tocsin.security.txn import write_transaction
    from tocsin.security.users import create_user
    from tocsin.store.db import make_engine

    source = config.shared_data_dir() / DATA_FILE
    if not source.is_file():
        raise SystemExit(f"missing {source}: set TOCSIN_SHARED_DATA")
    with tempfile.TemporaryDirectory(prefix="tocsin-mapbench-") as tmp:
        home = Path(tmp)
        sample = home / "sample.csv"
        n = sample_csv(source, args.events, sample)
        database_url = f"sqlite:///{home / 'bench.sqlite'}"
        engine = make_engine(database_url)
        t0 = time.perf_counter()
        report = ingest_file(engine, sample)
        print(f"imported {report.read} rows in {time.perf_counter() - t0:.0f} s", flush=True)
        with write_transaction(engine) as conn:
            create_user(
                conn,
                Passwords(),
                KeyRing(home),
                username="bench",
                display_name="Bench",
                role="partner",
                password=PASSWORD,
                actor=Actor("bench"),
                now=datetime.now(UTC),
            )
        engine.dispose()
        base, server = serve(home, database_url)
        try:
            with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
                client.post("/login", data={"username": "bench", "password": PASSWORD})
                wire: dict[str, tuple[list[float], list[int]]] = {k: ([], []) for k in WIRE}
                for _ in range(args.runs):  # interleaved, like the browser runs
                    for name, (path, encoding) in WIRE.items():
                        t = time.perf_counter()
                        response = client.get(path, headers={"accept-encoding": encoding})
                        response.read()
                        wire[name][0].append((time.perf_counter() - t) * 1000)
                        wire[name][1].append(response.num_bytes_downloaded)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                context = browser.new_context()
                page = context.new_page()
                page.goto(base + "/login")
                page.get_by_label("Username").fill("bench")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Log in").click()
                page.wait_for_url("**/map")
                state = context.storage_state()
                context.close()
                one_load(browser, base + "/map", state, shim=False)  # warm the server
                scenarios = {
                    "clustered": (base + "/map", False),
                    "unclustered": (base + "/map", True),
                    "empty": (base + "/map?actor=nobody+at+all", False),
                }
                results: dict[str, list[dict[str, float]]] = {k: [] for k in scenarios}
                for i in range(args.runs):  # interleaved, so drift hits every scenario alike
                    for name, (url, shim) in scenarios.items():
                        results[name].append(one_load(browser, url, state, shim))
                        print(f"run {i + 1} {name}: {results[name][-1]}", flush=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)

    clustered = median_of(results["clustered"], "rendered_ms")
    load = os.getloadavg()
    lines = [
        "## Map page load (`bench/map_load.py`)",
        "",
        f"Machine: {machine_info()}; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(1/5/15 min) when the runs ended: the machine is shared, figures move with it.",
        "",
        f"{n:,} UCDP GED 21.1 events (random sample, seed 7, of the global precise-location "
        f"file) imported with the ingest runner into SQLite; the real app (`tocsin serve`, its "
        "own process) on 127.0.0.1; "
        f"headless Chromium (Debian), a fresh context (cold cache) per load; medians of "
        f"{args.runs} interleaved runs. First render = `tocsin:map-rendered` mark (clusters on "
        "the map) from navigation start.",
        "",
        "| scenario | markers | data loaded (ms) | first render (ms) |",
        "|---|---:|---:|---:|",
    ]
    for name in ("clustered", "unclustered", "empty"):
        runs = results[name]
        lines.append(
            f"| {name} | {int(median_of(runs, 'markers')):,} | "
            f"{median_of(runs, 'data_ms'):.0f} | {median_of(runs, 'rendered_ms'):.0f} |"
        )
    lines += [
        "",
        "Server alone (httpx, all incidents, medians; the map loads the compact arrays, the "
        "GeoJSON endpoint is what it loaded before and stays for other clients):",
        "",
        "| response | ms | bytes on the wire |",
        "|---|---:|---:|",
        *(
            f"| {name} | {statistics.median(ms):.0f} | {statistics.median(sizes) / 1e6:.2f} MB |"
            for name, (ms, sizes) in wire.items()
        ),
        "",
        f"Target (issue 7): clustered first render under 2,000 ms: "
        f"**{'met' if clustered < 2000 else 'NOT met'}** ({clustered:.0f} ms).",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("map_load", text)


if __name__ == "__main__":
    main()
