"""Country-month backtest on the VIEWS prediction-challenge data: Tocsin vs every benchmark.

    nice .venv/bin/python bench/forecast_cm.py            # ged_sb and ged_os, Y2019-Y2022

Reads ``views_cm/cm_panel_2018_2022.parquet`` plus ``views_cm/long_history/*.parquet`` from the
shared data folder (never copied). For ``ged_sb`` the official benchmark files and actuals are
scored side by side with the re-implementations; for ``ged_os`` (no official files) the
re-implementations are the benchmarks. All models run in one process, on the same windows, and
the results go to the ``forecast_cm`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _forecast_common as common  # noqa: E402
from bench._report import machine_info, write_section  # noqa: E402

from tocsin import config  # noqa: E402
from tocsin.forecast import backtest as bt  # noqa: E402
from tocsin.forecast import events, model, neighbours, panel_build, report  # noqa: E402
from tocsin.forecast.panel import make_panel, read_views_panel  # noqa: E402
from tocsin.forecast.registry.partitions import parse_windows  # noqa: E402

OFFICIAL = ("zero", "last", "boot", "conflictology")
CHALLENGE = ("zero", "last", "boot", "conflictology")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="ged_sb,ged_os")
    parser.add_argument("--windows", default="Y2019,Y2020,Y2021,Y2022")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="tocsin," + ",".join(common.BASELINE_NAMES))
    parser.add_argument("--out", type=Path, default=Path("var/bench/forecast_cm"))
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Score forecasts already in --out (same code, an earlier run) instead of redoing "
        "them; the report lists which.",
    )
    parser.add_argument(
        "--no-extra",
        action="store_true",
        help="Do not learn from the GED 21.1 country history (ADR 0033).",
    )
    args = parser.parse_args()

    data = config.shared_data_dir() / "views_cm"
    files = [
        data / "cm_panel_2018_2022.parquet",
        *sorted((data / "long_history").glob("*.parquet")),
    ]
    windows = parse_windows(args.windows)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    sections = [
        f"Machine: {machine_info()}",
        "",
        "Load: the machine's 2 cores were shared with 7 other helpers' work (tests, other "
        f"benchmarks) during this run (at the start: {common.load_note()}); wall times are "
        "inflated accordingly, so CPU times are given too.",
        "",
    ]
    sections.append(
        "Data: VIEWS `cm_panel_2018_2022` + `long_history` (11 countries from 1990)"
        + (
            ""
            if args.no_extra
            else "; Tocsin also learns from UCDP GED 21.1 precise events "
            "aggregated by country, 1989-2018, as separate series cut at each window's cut-off "
            "(ADR 0033)"
        )
        + f"; windows "
        f"{args.windows}; {args.draws} draws; seed {args.seed}; Tocsin `{model.MODEL_VERSION}`. "
        "CRPS: `scoringrules.crps_ensemble`, estimator `qd` (empirical distribution of the "
        "draws), mean over country-months. Skill intervals: 95% bootstrap over countries "
        f"({args.bootstrap} resamples)."
    )
    for target in [t.strip() for t in args.targets.split(",") if t.strip()]:
        sections.append(run_target(target, files, data, windows, models, args))
    text = "\n".join(sections)
    print(text)
    if not args.no_write:
        write_section(
            "forecast_cm", "## Forecast: country-month (VIEWS challenge windows)\n\n" + text
        )


def run_target(target, files, data, windows, models, args) -> str:  # noqa: ANN001, PLR0913
    print(f"== {target}", flush=True)
    panel = read_views_panel(files, unit="country_id", targets=[target])
    first, second = neighbours.for_panel(panel)
    extra = () if args.no_extra else (ged_country_history(target),)
    request = bt.ForecastRequest(
        target, args.draws, args.seed, model.ModelConfig(), first, second, extra
    )
    out_dir = args.out / target
    run = common.run_models(panel, windows, models, request, out_dir, reuse=args.reuse)
    official = []
    if target == "ged_sb":
        official = link_official(data, out_dir, windows)
        truth = report.read_actuals_dir(data / "actuals", "country_id")
    else:
        truth = report.actuals_from_panel(panel, target)
    evaluation = common.evaluate(out_dir, truth, "country_id", args.bootstrap)
    table = common.crps_table(evaluation)
    return describe(target, table, evaluation, run, official, args.draws)


def ged_country_history(target: str) -> model.ExtraHistory:
    """UCDP GED 21.1 (precise events, 1989-2018) by country: more history to learn from."""
    source = config.shared_data_dir() / "ucdp" / "ged211_global_precise_1989_2018.csv"
    history, _ = panel_build.build_panel(events.read_ged_files([source]), "cm")
    first, second = neighbours.for_panel(history)
    return model.ExtraHistory(
        make_panel(history.frame, history.unit, targets=[target]), first, second
    )


def link_official(data: Path, out_dir: Path, windows) -> list[str]:  # noqa: ANN001
    """Official benchmark files, linked (not copied) into the layout as ``official_<name>``."""
    names = []
    for name in OFFICIAL:
        for window in windows:
            source = data / "benchmarks" / f"window={window.name}" / f"{name}.parquet"
            if not source.is_file():
                continue
            link = out_dir / f"official_{name}" / f"window={window.name}" / "predictions.parquet"
            link.parent.mkdir(parents=True, exist_ok=True)
            link.unlink(missing_ok=True)
            link.symlink_to(source.resolve())
        names.append(f"official_{name}")
    return names


def describe(target, table, evaluation, run, official, draws) -> str:  # noqa: ANN001, PLR0913
    lines = [
        f"\n### `{target}`\n",
        *(
            [
                "Forecasts scored as written by an earlier run of the same code and seed "
                "(`--reuse`): " + ", ".join(f"`{r}`" for r in run.reused) + ".\n"
            ]
            if run.reused
            else []
        ),
        "CRPS by window (lower is better):\n",
        common.md_table(table.sort_values("pooled")),
    ]
    references = list(official) if official else list(CHALLENGE)
    best = common.best_benchmark_by_window(table, references)
    best_pooled_name = table.loc[[r for r in references if r in table.index], "pooled"].idxmin()
    if "tocsin" in table.index:
        t = table.loc["tocsin"]
        conf = "official_conflictology" if official else "conflictology"
        skill_conf = 1 - t["pooled"] / table.loc[conf, "pooled"]
        skill_best = 1 - t["pooled"] / table.loc[best_pooled_name, "pooled"]
        by_window = {w: 1 - t[w] / best[w] for w in best.index}
        lines += [
            "",
            "Targets (issue 3, section 6):\n",
            f"- pooled CRPS vs conflictology (`{conf}`): {skill_conf:+.1%} (target >= +10%): "
            f"{'met' if skill_conf >= 0.10 else 'NOT met'}",
            f"- pooled CRPS vs the best benchmark (`{best_pooled_name}`): {skill_best:+.1%} "
            f"(target >= +5%): {'met' if skill_best >= 0.05 else 'NOT met'}",
            "- per window vs that window's best benchmark: "
            + ", ".join(f"{w} {s:+.1%}" for w, s in by_window.items())
            + f" (target: none negative): "
            f"{'met' if min(by_window.values()) >= 0 else 'NOT met'}",
        ]
        skill = evaluation.skill()
        if not skill.empty:
            row = skill[skill.model == "tocsin"].iloc[0]
            lines.append(
                f"- bootstrap 95% interval of the skill vs `{evaluation.benchmark}`: "
                f"[{row.ci_low:+.1%}, {row.ci_high:+.1%}]"
            )
        active = common.crps_table(evaluation, evaluation.rows["active"])
        lines += [
            "",
            "CRPS on countries with fatalities in the 36 months before the cut-off:\n",
            common.md_table(active.sort_values("pooled")),
        ]
        seconds = run.seconds("tocsin")
        cpu = run.cpu_seconds("tocsin")
        rows = evaluation.rows[evaluation.rows["model"] == "tocsin"]
        n_units = rows[evaluation.unit].nunique()
        lines.append("")
        if seconds:
            lines += [
                f"Cost: Tocsin trains and predicts one window ({n_units} countries x "
                f"{draws} draws) in a median {statistics.median(seconds):.0f} s wall time (per "
                "window: " + ", ".join(f"{s:.0f}" for s in seconds) + " s; target < 120 s "
                f"on 2 cores) and a median {statistics.median(cpu):.0f} s of CPU time (per "
                "window: " + ", ".join(f"{c:.0f}" for c in cpu) + " s; with LightGBM on 2 "
                "threads an idle 2-core machine needs a little over half of that in wall "
                f"time); peak RSS of the whole bench {common.peak_rss_gib():.1f} GiB. "
                "Machine load at the end of each timed Tocsin window: "
                + "; ".join(f"{t.window} {t.load}" for t in run.timings if t.model == "tocsin")
                + ".",
            ]
        else:
            lines.append("Cost: no Tocsin window of this target was timed in this run (reused).")
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
            digits=3,
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
