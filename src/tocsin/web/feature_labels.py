"""Human words, in the reader's language, for the forecaster's feature names.

The forecaster (``tocsin.forecast.features``) names its inputs for machines: ``y_sum12``,
``nb1_ged_sb_sum12``, ``ged_os_decay12``, ``cov_population``. The forecast page explains a
unit's risk with these names, so each one is read here as *what is counted* (the source: the
forecast target, another type of violence or events, here or in the neighbouring units) and
*how* (the measure: last month, a total, a recency, a trend...), and rendered as a short label
plus a one-sentence description, both gettext messages (``N_`` here, translated at render time
with the language's catalogue).

A name no rule reads gets a generic, still translated, "model feature: <name>" label;
``tests/web/test_feature_labels.py`` builds every feature the model can produce and fails when
one of them falls back, so a new feature without words here is caught.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tocsin.web.i18n import N_

Gettext = Callable[[str], str]

# What a count column counts (the forecast targets and the other count columns of a panel).
SOURCE_LABELS: Mapping[str, str] = {
    "ged_sb": N_("people killed in state-based violence"),
    "ged_ns": N_("people killed in non-state violence"),
    "ged_os": N_("civilians killed in one-sided violence"),
    "events_sb": N_("events of state-based violence"),
    "events_ns": N_("events of non-state violence"),
    "events_os": N_("events of violence against civilians"),
}
UNKNOWN_TARGET = N_("the forecast quantity")
NEIGHBOURS = N_("%(source)s in neighbouring units")
SECOND_RING = N_("%(source)s in the second ring of neighbouring units")
LABEL = N_("%(source)s: %(measure)s")

STEP_LABEL = N_("months ahead of the last data")
STEP_DESCRIPTION = N_("How far ahead of the data this forecast is; further ahead is less certain.")
COVARIATE_LABEL = N_("covariate: %(name)s")
COVARIATE_DESCRIPTION = N_(
    "A value supplied with the data for this unit and month, not counted from the events."
)
FALLBACK_LABEL = N_("model feature: %(name)s")
FALLBACK_DESCRIPTION = N_("The model's own name for this input; it has no description yet.")


@dataclass(frozen=True, slots=True)
class Measure:
    pattern: re.Pattern[str]  # matched against the end of the name; group "src" is the source
    label: str
    description: str


def _measure(suffix: str, label: str, description: str) -> Measure:
    return Measure(re.compile(rf"^(?P<src>.+)_{suffix}$"), label, description)


# Order matters: the more specific suffixes (decay25_N, decayN_max, since25) come first.
MEASURES: tuple[Measure, ...] = (
    _measure(
        r"decay25_(?P<n>\d+)",
        N_("how recent the last month with 25 or more was (half-life %(n)s months)"),
        N_(
            "1 just after a month with 25 or more, halving every %(n)s months without one; "
            "0 if there was none."
        ),
    ),
    _measure(
        r"decay(?P<n>\d+)_max",
        N_("how recently any of them was hit (half-life %(n)s months)"),
        N_(
            "The recency of the most recently hit neighbour: 1 just after, halving every "
            "%(n)s months."
        ),
    ),
    _measure(
        r"decay(?P<n>\d+)",
        N_("how recent the last month with any was (half-life %(n)s months)"),
        N_("1 just after a month with any, halving every %(n)s months without; 0 if none."),
    ),
    _measure(
        r"since25",
        N_("months since the last month with 25 or more"),
        N_("0 when the last month had 25 or more; unknown if the data hold no such month."),
    ),
    _measure(
        r"since",
        N_("months since the last month with any"),
        N_("0 when the last month had some; unknown if the data hold none."),
    ),
    _measure(
        r"trend(?P<a>\d+)_(?P<n>\d+)",
        N_("trend, last %(a)s months against the last %(n)s"),
        N_(
            "Above 0 when the last %(a)s months were worse than the average of the last "
            "%(n)s, below 0 when they were better."
        ),
    ),
    _measure(
        r"lag0",
        N_("the last month"),
        N_("The count of the latest month with data."),
    ),
    _measure(
        r"lag1",
        N_("the month before the last"),
        N_("The count of one single month, one month before the latest month with data."),
    ),
    _measure(
        r"lag(?P<n>\d+)",
        N_("%(n)s months before the last month"),
        N_("The count of one single month, %(n)s months before the latest month with data."),
    ),
    _measure(
        r"sum(?P<n>\d+)",
        N_("total over the last %(n)s months"),
        N_("The counts of the last %(n)s months added up."),
    ),
    _measure(
        r"active(?P<n>\d+)",
        N_("share of the last %(n)s months with any"),
        N_("How many of the last %(n)s months had at least one, as a share from 0 to 1."),
    ),
    _measure(
        r"max(?P<n>\d+)",
        N_("highest single month in the last %(n)s months"),
        N_("The largest count of any one month among the last %(n)s."),
    ),
    _measure(
        r"logstd(?P<n>\d+)",
        N_("volatility over the last %(n)s months"),
        N_("How much the monthly count swung up and down over the last %(n)s months."),
    ),
    _measure(
        r"ewm(?P<n>\d+)",
        N_("recent level (half-life %(n)s months)"),
        N_(
            "An average of past months in which each month weighs half as much "
            "every %(n)s months back."
        ),
    ),
    _measure(
        r"base(?P<n>\d+)",
        N_("average level over the last %(n)s months"),
        N_("The monthly average of the last %(n)s months, the level the forecast starts from."),
    ),
    _measure(
        r"history",
        N_("months of data available"),
        N_("How many months of history the model had for this unit."),
    ),
)

_SOURCE_COLUMN = "|".join(SOURCE_LABELS)
_NEIGHBOUR_SOURCE = re.compile(rf"^(?P<ring>nb[12])(?:_(?P<col>{_SOURCE_COLUMN}))?$")
_COVARIATE_NAME = re.compile(r"^[\w .-]{1,80}$")


@dataclass(frozen=True, slots=True)
class FeatureText:
    label: str
    description: str
    known: bool  # False: the generic fallback (no rule reads this name)


def _source(key: str, target: str, gettext: Gettext) -> str | None:
    """What a feature counts, in words; ``None`` if the key is not a known source."""

    def column(col: str) -> str:
        return gettext(SOURCE_LABELS[col]) if col in SOURCE_LABELS else gettext(UNKNOWN_TARGET)

    if key == "y":  # the forecast target's own history
        return column(target)
    if key in SOURCE_LABELS:
        return gettext(SOURCE_LABELS[key])
    found = _NEIGHBOUR_SOURCE.match(key)
    if found is None:
        return None
    counted = column(found["col"] or target)
    ring = NEIGHBOURS if found["ring"] == "nb1" else SECOND_RING
    return gettext(ring) % {"source": counted}


def explain_feature(name: str, target: str, gettext: Gettext = str) -> FeatureText:
    """The label and description of feature ``name`` of a model forecasting ``target``."""
    if name == "step":
        return FeatureText(gettext(STEP_LABEL), gettext(STEP_DESCRIPTION), True)
    if name.startswith("cov_") and _COVARIATE_NAME.match(name[4:]):
        label = gettext(COVARIATE_LABEL) % {"name": name[4:]}
        return FeatureText(label, gettext(COVARIATE_DESCRIPTION), True)
    for measure in MEASURES:
        found = measure.pattern.match(name)
        if found is None:
            continue
        params = {k: v for k, v in found.groupdict().items() if k != "src"}
        source = _source(found["src"], target, gettext)
        if source is None:
            continue
        label = gettext(LABEL) % {
            "source": source,
            "measure": gettext(measure.label) % params,
        }
        return FeatureText(label, gettext(measure.description) % params, True)
    shown = name[:80]
    return FeatureText(
        gettext(FALLBACK_LABEL) % {"name": shown}, gettext(FALLBACK_DESCRIPTION), False
    )
