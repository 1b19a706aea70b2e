"""PRIO-GRID-month backtest for Africa, one-sided violence: Tocsin vs the benchmarks.

    nice .venv/bin/python bench/forecast_pgm.py           # windows Y2015-Y2018, ged_os

Builds the panel of every land cell of the African states (shipped Natural Earth outlines) from
``ucdp/ged211_global_precise_1989_2018.csv`` (never copied), zero-filled, 1989-2018, then
backtests Tocsin and the re-implemented benchmarks on the same windows, in one process, and
writes the ``forecast_pgm`` section of BENCHMARKS.md. Cost is measured per Tocsin window: wall
time and the peak memory of a child process that runs just that window.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _forecast_common as common  # noqa: E402
from bench._report import machine_info, write_section  # noqa: E402

from tocsin import config  # noqa: E402
from tocsin.forecast import backtest as bt  # noqa: E402
from tocsin.forecast import countries, events, model, neighbours, panel_build, report  # noqa: E402
from tocsin.forecast.panel import Panel  # noqa: E402
from tocsin.forecast.registry.partitions import parse_windows  # noqa: E402
from tocsin.forecast.samples import window_path  # noqa: E402

CHALLENGE = ("zero", "last", "boot", "conflictology")


def build_africa_panel() -> Panel:
    source = config.shared_data_dir() / "ucdp" / "ged211_global_precise_1989_2018.csv"
    frame = events.read_ged_files([source])
    panel, rep = panel_build.build_panel(frame, "pgm", country_codes=list(countries.AFRICA_ISO3))
    print(
        f"panel: {len(panel.units)} cells x {panel.last_month - panel.first_month + 1} months; "
        f"{rep.n_placed} of {rep.n_events} events in Africa",
        flush=True,
    )
    return panel


def _one_window(args: tuple) -> dict:
    """Child process: one Tocsin window, so that its peak memory is measured alone."""
    window_name, draws, seed, out_dir = args
    panel = build_africa_panel()
    first, second = neighbours.for_panel(panel)
    # The settings Tocsin uses for any large panel: ``model.default_config`` (sampled rows).
    request = bt.ForecastRequest("ged_os", draws, seed, model.default_config(panel), first, second)
    start, cpu_start = time.perf_counter(), time.process_time()
    bt.backtest(panel, parse_windows(window_name), "tocsin", request, out_dir=Path(out_dir))
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu_start,
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "load": common.load_note(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="Y2015,Y2016,Y2017,Y2018")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--bootstrap", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="tocsin," + ",".join(common.BASELINE_NAMES))
    parser.add_argument("--out", type=Path, default=Path("var/bench/forecast_pgm"))
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    parser.add_argument(
        "--baselines-from",
        type=Path,
        default=None,
        metavar="DIR",
        help="Score the baseline forecasts that an earlier run (same baseline code, seed and "
        "draws) wrote under DIR (its --out) instead of recomputing them; they are linked into "
        "--out and the report names them. Tocsin is always re-run.",
    )
    args = parser.parse_args()
    windows = parse_windows(args.windows)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    out_dir = args.out / "ged_os"

    costs = {}
    if "tocsin" in models:
        ctx = mp.get_context("spawn")
        for window in windows:
            with ctx.Pool(1) as pool:
                costs[window.name] = pool.map(
                    _one_window, [(window.name, args.draws, args.seed, str(out_dir))]
                )[0]
            print(f"  {window.name} tocsin: {json.dumps(costs[window.name])}", flush=True)
    panel = build_africa_panel()
    request = bt.ForecastRequest("ged_os", args.draws, args.seed, model.default_config(panel))
    baselines = [m for m in models if m != "tocsin"]
    if args.baselines_from is not None:
        link_baselines(args.baselines_from / "ged_os", out_dir, baselines, windows)
    run = common.run_models(
        panel, windows, baselines, request, out_dir, reuse=args.baselines_from is not None
    )
    truth = report.actuals_from_panel(panel, "ged_os")
    del panel
    evaluation = common.evaluate(out_dir, truth, "priogrid_gid", args.bootstrap, active_months=36)
    text = describe(evaluation, costs, args, windows, run.reused)
    print(text)
    if not args.no_write:
        write_section(
            "forecast_pgm", "## Forecast: PRIO-GRID-month, Africa, one-sided violence\n\n" + text
        )


def link_baselines(source: Path, out_dir: Path, names: list[str], windows) -> None:  # noqa: ANN001
    """Link the baseline forecasts of an earlier run into ``out_dir`` (missing ones are redone)."""
    for name in names:
        for window in windows:
            earlier = window_path(source, name, window.name)
            if not earlier.is_file():
                continue
            link = window_path(out_dir, name, window.name)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(earlier.resolve())


def describe(evaluation, costs, args, windows, reused=()) -> str:  # noqa: ANN001
    table = common.crps_table(evaluation)
    active = common.crps_table(evaluation, evaluation.rows["active"])
    n_cells = evaluation.rows["priogrid_gid"].nunique()
    lines = [
        f"Machine: {machine_info()}",
        "",
        "Load: the machine's 2 cores were shared with 7 other helpers' work during the run "
        f"(at the end: {common.load_note()}; per Tocsin window: "
        + "; ".join(f"{w} {c['load']}" for w, c in costs.items())
        + "), so wall times are inflated; CPU times are given too.",
        "",
        f"Data: UCDP GED 21.1 (precise locations), all {n_cells} land cells of the African states, "
        f"1989-2018, target `ged_os`; windows {args.windows}; {args.draws} draws; seed "
        f"{args.seed}; Tocsin `{model.MODEL_VERSION}` with its large-panel settings "
        "(`model.default_config`: 5% of cold rows, 4 steps per cell-origin, cells with "
        "`ged_os` in the last 36 months calibrated apart, `split_recent`). "
        "CRPS: `scoringrules.crps_ensemble` (estimator `qd`).",
        "",
        *(
            [
                "Baseline forecasts scored as written by an earlier run of the same baseline "
                f"code, seed and draws (`--baselines-from {args.baselines_from}`): "
                + ", ".join(f"`{r}`" for r in reused)
                + ".",
                "",
            ]
            if reused
            else []
        ),
        "CRPS by window, all cells (lower is better):\n",
        common.md_table(table.sort_values("pooled"), digits=4),
        "",
        "CRPS on cells with one-sided violence in the 36 months before the cut-off:\n",
        common.md_table(active.sort_values("pooled"), digits=3),
    ]
    if "tocsin" in table.index:
        refs = [r for r in CHALLENGE if r in table.index]
        best = table.loc[refs, "pooled"].idxmin()
        best_active = active.loc[refs, "pooled"].idxmin()
        s_all = 1 - table.loc["tocsin", "pooled"] / table.loc[best, "pooled"]
        s_active = 1 - active.loc["tocsin", "pooled"] / active.loc[best_active, "pooled"]
        seconds = [c["seconds"] for c in costs.values()]
        cpu = [c["cpu_seconds"] for c in costs.values()]
        peaks = [c["peak_gib"] for c in costs.values()]
        lines += [
            "",
            "Targets (issue 3, section 6):\n",
            f"- pooled CRPS vs the best benchmark (`{best}`): {s_all:+.1%} (target >= +3%): "
            f"{'met' if s_all >= 0.03 else 'NOT met'}",
            f"- cells with one-sided violence in the previous 36 months, vs the best benchmark "
            f"there (`{best_active}`): {s_active:+.1%} (target >= +10%): "
            f"{'met' if s_active >= 0.10 else 'NOT met'}",
            f"- cost per window (train + predict + write {n_cells} cells x 12 months x "
            f"{args.draws} draws): median {statistics.median(seconds) / 60:.1f} min (per "
            "window: " + ", ".join(f"{s / 60:.1f}" for s in seconds) + " min; target < 15 min)"
            f", peak memory {max(peaks):.1f} GiB (target < 8 GB); CPU time per window: "
            + ", ".join(f"{c / 60:.1f}" for c in cpu)
            + " min (on 2 cores, an idle machine needs about half of that in wall time)"
            if seconds
            else "",
        ]
    pooled = report.tables(evaluation)["pooled"].set_index("model")
    lines += [
        "",
        "Other scores, pooled (lower is better except AP):\n",
        common.md_table(
            pooled[
                [
                    "crps",
                    "twcrps25",
                    "ign",
                    "is90",
                    "brier_gt0",
                    "brier_ge25",
                    "ap_gt0",
                    "ap_ge25",
                    "msle",
                ]
            ],
            digits=4,
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
