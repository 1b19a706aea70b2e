"""Bar charts drawn on the server as SVG geometry (no JavaScript, printable by WeasyPrint).

Two shapes: stacked vertical bars over time (counts per bin, stacked by category) and horizontal
bars (one value per label). Functions return plain dataclasses of numbers; the template
(``templates/_charts.html``) turns them into SVG, and escapes every label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    y: float
    w: float
    h: float
    category: str
    title: str  # "2022-01-05: 3" for the tooltip / screen readers


@dataclass(frozen=True, slots=True)
class AxisLabel:
    x: float
    anchor: str
    text: str


@dataclass(frozen=True, slots=True)
class StackedBars:
    width: int
    height: int
    segments: tuple[Segment, ...]
    labels: tuple[AxisLabel, ...]
    peak: int
    empty: bool


@dataclass(frozen=True, slots=True)
class HBar:
    y: float
    w: float
    label: str
    value: int


@dataclass(frozen=True, slots=True)
class HBars:
    width: int
    height: int
    label_width: int
    bar_height: float
    bars: tuple[HBar, ...]
    peak: int


def stacked_bars(
    bins: Sequence[str],
    counts: Mapping[str, Mapping[str, int]],
    categories: Sequence[str],
    *,
    width: int = 720,
    height: int = 180,
) -> StackedBars:
    """Bars for ``bins`` (oldest first), each stacked by ``categories`` in that order.

    ``counts[bin][category]`` is the count; missing bins or categories count as zero, so that
    gaps show as gaps.
    """
    totals = [sum(counts.get(b, {}).get(c, 0) for c in categories) for b in bins]
    peak = max(totals, default=0)
    if not bins or peak == 0:
        return StackedBars(width, height, (), (), 0, True)
    slot = width / len(bins)
    usable = height - 10
    segments = []
    for i, b in enumerate(bins):
        y = float(height)
        for c in categories:
            n = counts.get(b, {}).get(c, 0)
            if not n:
                continue
            h = usable * n / peak
            y -= h
            segments.append(
                Segment(
                    round(i * slot + slot * 0.1, 2),
                    round(y, 2),
                    round(max(slot * 0.8, 0.5), 2),
                    round(h, 2),
                    c,
                    f"{b}: {n}",
                )
            )
    return StackedBars(width, height, tuple(segments), _labels(bins, slot, width), peak, False)


def _labels(bins: Sequence[str], slot: float, width: int) -> tuple[AxisLabel, ...]:
    """First and last bin, and up to four evenly spaced ones between them."""
    last = len(bins) - 1
    out = [AxisLabel(0, "start", bins[0])]
    if last >= 6:
        step = max(1, last // 5)
        for i in range(step, last - step // 2, step):
            out.append(AxisLabel(round((i + 0.5) * slot, 2), "middle", bins[i]))
    if last > 0:
        out.append(AxisLabel(width, "end", bins[last]))
    return tuple(out)


def horizontal_bars(
    values: Sequence[tuple[str, int]], *, width: int = 720, bar_height: float = 18
) -> HBars:
    """One bar per (label, value), in the order given; labels are cut at 40 characters."""
    label_width = 220
    peak = max((v for _, v in values), default=0)
    usable = width - label_width - 50
    bars = []
    for i, (label, value) in enumerate(values):
        w = usable * value / peak if peak else 0
        text = label if len(label) <= 40 else label[:39] + "…"
        bars.append(HBar(round(i * (bar_height + 6), 2), round(w, 2), text, value))
    height = max(1, round(len(values) * (bar_height + 6)))
    return HBars(width, height, label_width, bar_height, tuple(bars), peak)
