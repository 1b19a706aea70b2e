"""Every feature the forecaster can produce has human words, in English and French.

The feature names are not listed here by hand: they come from
``tocsin.forecast.features.build_features`` run on a small panel written below that has every
count column, a covariate and both rings of neighbours, for each forecast target; plus the
``step`` feature the model adds (``tocsin.forecast.model``: ``[*cube.names, "step"]``). A new
feature the forecaster starts producing without a rule in ``web/feature_labels.py`` fails here.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tocsin.forecast.features import build_features, priogrid_neighbours
from tocsin.forecast.panel import COUNT_COLUMNS, FATALITY_COLUMNS, make_panel
from tocsin.web.feature_labels import explain_feature
from tocsin.web.i18n import translations

STEP_FEATURE = "step"  # appended to the cube's names by forecast/model.py


def _feature_names(target: str) -> list[str]:
    units = [5000, 5001, 5720]  # three touching PRIO-GRID cells
    rows = [
        {
            "priogrid_gid": unit,
            "month_id": month,
            **{c: (month + unit) % 4 for c in COUNT_COLUMNS},
            "population": 1000.0 + unit,
        }
        for unit in units
        for month in range(500, 540)
    ]
    panel = make_panel(pd.DataFrame(rows), "priogrid_gid", targets=[target])
    cube = build_features(
        panel,
        target,
        neighbours=priogrid_neighbours(panel.units),
        second_ring=priogrid_neighbours(panel.units, ring=2),
    )
    return [*cube.names, STEP_FEATURE]


@pytest.mark.parametrize("target", FATALITY_COLUMNS)
def test_every_feature_the_model_can_produce_has_a_label(target: str) -> None:
    names = _feature_names(target)
    assert len(names) > 60 and "cov_population" in names  # the panel exercised every family
    french = translations("fr").gettext
    unlabelled, untranslated, labels = [], [], {}
    for name in names:
        english = explain_feature(name, target)
        if not english.known or name in english.label:
            unlabelled.append(name)
        fr = explain_feature(name, target, french)
        if fr.label == english.label or fr.description == english.description:
            untranslated.append(name)
        labels.setdefault(english.label, []).append(name)
    assert unlabelled == [], unlabelled
    assert untranslated == [], untranslated
    # Two features never read the same: the reader could not tell them apart.
    assert {label: n for label, n in labels.items() if len(n) > 1} == {}


def test_labels_read_as_words() -> None:
    text = explain_feature("nb1_ged_sb_sum12", "ged_os")
    assert text.label == (
        "people killed in state-based violence in neighbouring units: total over the last 12 months"
    )
    assert explain_feature("y_lag0", "ged_os").label == (
        "civilians killed in one-sided violence: the last month"
    )
    assert "every 12 months" in explain_feature("ged_os_decay12", "ged_sb").description
    assert explain_feature("cov_population", "ged_sb").label == "covariate: population"
    french = explain_feature("nb2_sum3", "ged_os", translations("fr").gettext)
    assert french.label == (
        "civils tués dans des violences unilatérales dans la deuxième couronne "
        "d'unités voisines : total des 3 derniers mois"
    )


@pytest.mark.parametrize(
    "name", ["y_zscore12", "nb3_sum12", "", "<script>alert(1)</script>", "x" * 5000, "cov_"]
)
def test_tm_69_unknown_or_hostile_names_fall_back_to_a_translated_generic_label(name: str) -> None:
    text = explain_feature(name, "ged_sb")
    assert not text.known
    assert text.label.startswith("model feature: ") and len(text.label) < 120
    fr = explain_feature(name, "ged_sb", translations("fr").gettext)
    assert fr.label.startswith("variable du modèle : ")


def test_an_unknown_target_still_reads() -> None:
    assert explain_feature("y_sum3", "acled_x").label == (
        "the forecast quantity: total over the last 3 months"
    )
