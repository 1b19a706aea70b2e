"""Colours of maps and charts drawn on the server, as SVG presentation attributes.

SVG served as an image or printed to PDF gets no page stylesheet, and the CSP forbids inline
styles, so colours are attributes (``fill="#0072b2"``). They are the same values as the custom
properties in ``static/css/tocsin.css`` (a test keeps the two in step): the Okabe-Ito palette for
categories and a five-class viridis ramp for risk, both readable with colour-vision deficiency.
"""

from __future__ import annotations

from collections.abc import Mapping

VIOLENCE_COLOURS: Mapping[str, str] = {
    "state_based": "#0072b2",
    "non_state": "#e69f00",
    "one_sided": "#d55e00",
    "unknown": "#7f7f7f",
}
RISK_COLOURS: tuple[str, ...] = ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154")

MAP_COLOURS: Mapping[str, str] = {
    "sea": "#dbe9f2",
    "land": "#eef0e8",
    "land-focus": "#e2e6d6",
    "border": "#8c968f",
}
FOCUS_BORDER = "#3d4640"
INK = "#1b1f23"
MUTED = "#4f5962"
BAND = "#f3f5f7"


def violence_colour(value: str | None) -> str:
    return VIOLENCE_COLOURS.get(value or "unknown", VIOLENCE_COLOURS["unknown"])
