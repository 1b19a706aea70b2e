"""Shared code of the forecast benchmarks: run every model on every window, score, tabulate."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tocsin.forecast import backtest as bt
from tocsin.forecast import report
from tocsin.forecast.evaluate import MetricSettings
from tocsin.forecast.panel import Panel
from tocsin.forecast.registry.partitions import Window
from tocsin.forecast.samples import window_path

BASELINE_NAMES = ("zero", "last", "boot", "conflictology", "avg60")


@dataclass
class Timing:
    model: str
    window: str
    seconds: float
    # CPU time of the process (all threads): on a shared machine, wall time measures the load
    # as much as the model; CPU seconds / cores is what the window costs on an idle machine.
    cpu_seconds: float = 0.0
    load: str = ""


@dataclass
class BenchRun:
    out_dir: Path
    timings: list[Timing] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)

    def seconds(self, model: str) -> list[float]:
        return [t.seconds for t in self.timings if t.model == model]

    def cpu_seconds(self, model: str) -> list[float]:
        return [t.cpu_seconds for t in self.timings if t.model == model]


def run_models(
    panel: Panel,
    windows: Sequence[Window],
    models: Sequence[str],
    request: bt.ForecastRequest,
    out_dir: Path,
    log=print,  # noqa: ANN001
    reuse: bool = False,
) -> BenchRun:
    """Backtest every model on every window into ``out_dir`` (challenge layout), timed.

    With ``reuse``, forecasts already in ``out_dir`` (from an earlier run of the same code) are
    scored as they are and not timed again."""
    run = BenchRun(out_dir)
    for window in windows:
        for name in models:
            if reuse and window_path(out_dir, name, window.name).is_file():
                run.reused.append(f"{name}/{window.name}")
                log(f"  {window.name} {name}: reused")
                continue
            start, cpu_start = time.perf_counter(), time.process_time()
            bt.backtest(panel, [window], name, request, out_dir=out_dir)
            seconds = time.perf_counter() - start
            cpu = time.process_time() - cpu_start
            load = load_note()
            run.timings.append(Timing(name, window.name, seconds, cpu, load))
            log(f"  {window.name} {name}: {seconds:.1f} s wall, {cpu:.1f} s CPU, {load}")
    return run


def load_note() -> str:
    """The machine's load averages: the benchmarks share 2 cores with other work."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min)"


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def evaluate(
    out_dir: Path, truth: pd.DataFrame, unit: str, bootstrap: int, active_months: int = 36
) -> report.Evaluation:
    settings = MetricSettings(bootstrap_samples=bootstrap, active_months=active_months)
    return report.evaluate_directory(
        out_dir, truth, unit, settings=settings, benchmark="conflictology"
    )


def crps_table(evaluation: report.Evaluation, subset: pd.Series | None = None) -> pd.DataFrame:
    """CRPS by window (columns) and model (rows), plus the pooled mean."""
    rows = evaluation.rows if subset is None else evaluation.rows[subset]
    table = rows.pivot_table(index="model", columns="window", values="crps", aggfunc="mean")
    table["pooled"] = rows.groupby("model")["crps"].mean()
    return table


def md_table(frame: pd.DataFrame, digits: int = 2, index_name: str = "model") -> str:
    frame = frame.reset_index().rename(columns={"index": index_name})
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def best_benchmark_by_window(table: pd.DataFrame, candidates: Sequence[str]) -> pd.Series:
    present = [c for c in candidates if c in table.index]
    return table.loc[present].drop(columns=["pooled"]).min(axis=0)
