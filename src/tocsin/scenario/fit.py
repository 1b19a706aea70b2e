"""Derive a whole ``Calibration`` from a real GED file (``tocsin scenario calibrate``)."""

from __future__ import annotations

import json
import math
from dataclasses import fields, is_dataclass

from tocsin.scenario.calibration import Calibration
from tocsin.scenario.fit_marks import (
    death_patterns,
    dyad_statistics,
    estimate_spread,
    fit_fatalities,
    mark_persistence,
    shares,
    source_counts,
)
from tocsin.scenario.fit_process import fit_process
from tocsin.scenario.ged_sample import GedSample

SIGNIFICANT_DIGITS = 6


def fit_calibration(sample: GedSample) -> Calibration:
    frame = sample.frame
    process_fit = fit_process(sample)
    ordered = frame.iloc[process_fit.prepared.order]
    dyads, zipf, actors = dyad_statistics(frame)
    unknown_sources, mean_sources = source_counts(frame["number_of_sources"])
    return Calibration(
        source=sample.source,
        country_iso3=sample.country.iso3,
        window_start=f"{sample.window_start:%Y-%m}",
        window_months=sample.window_months,
        events=len(frame),
        area_km2=sample.country.area_km2,
        process=process_fit.process,
        background=process_fit.background,
        type_shares=shares(frame["type_of_violence"], [1, 2, 3]),
        mark_persistence=mark_persistence(
            ordered["dyad_name"].to_numpy(),
            process_fit.pairs.child,
            process_fit.pairs.parent,
            process_fit.pair_weight,
        ),
        fatalities={
            str(code): fit_fatalities(frame.loc[frame["type_of_violence"] == code, "best"])
            for code in (1, 2, 3)
        },
        death_patterns={
            str(code): death_patterns(frame[frame["type_of_violence"] == code])
            for code in (1, 2, 3)
        },
        estimates=estimate_spread(frame),
        where_prec_shares=shares(frame["where_prec"], [1, 2, 3, 4, 5, 6]),
        date_prec_shares=shares(frame["date_prec"], [1, 2, 3, 4, 5]),
        unclear_share=float((frame["event_clarity"] == 2).mean()),
        sources_unknown_share=unknown_sources,
        sources_mean=mean_sources,
        dyads=dyads,
        dyad_zipf_exponent=zipf,
        actors=actors,
    )


def _round(value: float) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, SIGNIFICANT_DIGITS - 1 - int(math.floor(math.log10(abs(value)))))


def _source(value: object, indent: int) -> str:
    pad = " " * indent
    if is_dataclass(value):
        inner = ",\n".join(
            f"{pad}    {f.name}={_source(getattr(value, f.name), indent + 4)}"
            for f in fields(value)
        )
        return f"{type(value).__name__}(\n{inner},\n{pad})"
    if isinstance(value, dict):
        inner = ",\n".join(
            f"{pad}    {_source(k, indent + 4)}: {_source(v, indent + 4)}" for k, v in value.items()
        )
        return f"{{\n{inner},\n{pad}}}"
    if isinstance(value, tuple):
        if not value:
            return "()"
        inner = ",\n".join(f"{pad}    {_source(v, indent + 4)}" for v in value)
        return f"(\n{inner},\n{pad})"
    if isinstance(value, str):
        return json.dumps(value)  # a double-quoted Python literal, as ruff formats it
    if isinstance(value, float):
        return repr(_round(value))
    return repr(value)


def calibration_source(calibration: Calibration, name: str = "CAR_CALIBRATION") -> str:
    """Python source for a calibration constant (6 significant digits), ready to paste: it is
    already in the layout ``ruff format`` gives it."""
    return f"{name} = {_source(calibration, 0)}\n"
