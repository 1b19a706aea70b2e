"""Situation reports: one period, one area, one audience, in HTML and PDF.

``build_sitrep`` reads the store (through ``sitrep_data``, which applies the audience's scope
and the field redaction) and returns a view model of numbers and already-redacted records;
``render_html`` turns it into one self-contained HTML file (inline SVG map and charts, inline
stylesheet) and ``render_pdf`` prints that HTML with WeasyPrint. Nothing is fetched over the
network: WeasyPrint's URL fetcher refuses every URL.

Contents: key figures, a map of the incidents over the Natural Earth outlines, incidents over
time and by area, the twelve-month trend, the incident table, the forecast outlook, alerts and
responses, and the attribution of every data source used.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pycountry
from sqlalchemy import Connection

from tocsin.domain.taxonomy import SensitivityTier
from tocsin.geo.countries import UnknownCountryError, country_info
from tocsin.security.audit import Actor
from tocsin.security.audit import record as audit_record
from tocsin.security.policies import AccessScope
from tocsin.store.queries import EventQuery, Scope, count_by
from tocsin.web import charts, sitrep_data
from tocsin.web.i18n import N_, TranslatableError, environment
from tocsin.web.labels import TIER_LABELS, VIOLENCE_LABELS, VIOLENCE_ORDER
from tocsin.web.overview import attribution_for
from tocsin.web.palette import (
    FOCUS_BORDER,
    MAP_COLOURS,
    VIOLENCE_COLOURS,
)
from tocsin.web.svgmap import MapPoint, SvgMap, box_of_country, box_of_points, render_map

SITREP_CSS = Path(__file__).parent / "static" / "css" / "sitrep.css"
MAX_TABLE_ROWS = 500
MAX_SPAN_DAYS = 3660
TREND_MONTHS = 12
NATURAL_EARTH = N_("Country outlines: Natural Earth (public domain), via the world-atlas package.")

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_PCODE = re.compile(r"^[A-Z]{2}[0-9][0-9A-Z]{0,15}$")


class SitrepError(TranslatableError):
    """A report cannot be made as asked (bad period or area); the message says why, in the
    reader's language (:meth:`TranslatableError.translate`)."""


# --- period and area ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _one_period(text: str) -> tuple[date, date]:
    try:
        if m := _DAY.match(text):
            day = date(int(m[1]), int(m[2]), int(m[3]))
            return day, day
        if m := _MONTH.match(text):
            year, month = int(m[1]), int(m[2])
            return date(year, month, 1), _month_end(year, month)
        if m := _YEAR.match(text):
            year = int(m[1])
            return date(year, 1, 1), date(year, 12, 31)
    except ValueError as exc:
        raise SitrepError(N_("not a valid date: %(text)s"), text=repr(text)) from exc
    raise SitrepError(
        N_(
            "cannot read the period %(text)s: use YYYY-MM, YYYY, YYYY-MM-DD, "
            "or a range such as 2022-01..2022-03"
        ),
        text=repr(text[:40]),
    )


def parse_period(text: str, today: date | None = None) -> Period:
    """``2022-01`` (a month), ``2022`` (a year), ``2022-01-15`` (a day) or ``A..B``."""
    text = (text or "").strip()
    if len(text) > 40:
        raise SitrepError(N_("the period is longer than 40 characters"))
    if ".." in text:
        first, _, last = text.partition("..")
        start, _ = _one_period(first.strip())
        _, end = _one_period(last.strip())
    else:
        start, end = _one_period(text)
    if start.year < 1946:
        raise SitrepError(N_("periods before 1946 hold no data"))
    if end < start:
        raise SitrepError(
            N_("the period ends (%(end)s) before it starts (%(start)s)"), end=end, start=start
        )
    if (end - start).days >= MAX_SPAN_DAYS:
        raise SitrepError(N_("a report covers at most ten years"))
    if today is not None and start > today:
        raise SitrepError(N_("the period starts in the future (%(start)s)"), start=start)
    return Period(start, end, text)


@dataclass(frozen=True, slots=True)
class Area:
    code: str
    name: str
    iso3: str | None  # the country drawn in focus on the map
    is_country: bool

    def query(self, period: Period) -> EventQuery:
        if self.is_country:
            return EventQuery(country_iso3=self.code, start=period.start, end=period.end)
        return EventQuery(pcode=self.code, start=period.start, end=period.end)

    @property
    def pcode_prefixes(self) -> tuple[str, ...]:
        """P-code prefixes of the area (OCHA P-codes start with the ISO alpha-2 code)."""
        if not self.is_country:
            return (self.code,)
        country = pycountry.countries.get(alpha_3=self.code)
        return (country.alpha_2,) if country is not None else ()

    @property
    def alert_tokens(self) -> tuple[str, ...]:
        """Codes an alert's area key or geocodes may start with to be about this area."""
        if not self.is_country:
            return (self.code,)
        tokens = [self.code]
        country = pycountry.countries.get(alpha_3=self.code)
        if country is not None:
            tokens.append(country.alpha_2)  # OCHA P-codes start with the ISO alpha-2 code
        return tuple(tokens)


def parse_area(text: str) -> Area:
    """An ISO 3166 alpha-3 country code (``CAF``) or an OCHA P-code (``CF11``)."""
    code = (text or "").strip().upper()
    if len(code) == 3 and code.isalpha():
        try:
            info = country_info(code)
        except UnknownCountryError as exc:
            raise SitrepError(
                N_("%(code)s is not a country code this system knows"), code=repr(code)
            ) from exc
        return Area(code, info.name, info.iso3, True)
    if _PCODE.match(code):
        country = pycountry.countries.get(alpha_2=code[:2])
        iso3 = country.alpha_3 if country is not None else None
        return Area(code, code, iso3, False)
    raise SitrepError(
        N_(
            "cannot read the area %(text)s: give an ISO 3166 alpha-3 country code such as "
            "CAF, or an OCHA P-code such as CF11"
        ),
        text=repr(text[:40]),
    )


# --- the view model -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentRow:
    date: str
    place: str
    violence_type: str
    perpetrators: str
    fatalities: int | None
    civilian_fatalities: int | None
    source_grades: str
    tier: str
    title: str | None
    location_withheld: bool


@dataclass(frozen=True, slots=True)
class Totals:
    incidents: int
    fatalities: int
    civilian_fatalities: int
    restricted_cases: int
    without_location: int


@dataclass(slots=True)
class Sitrep:
    period: Period
    area: Area
    tier: SensitivityTier
    generated_at: datetime
    totals: Totals
    rows: list[IncidentRow]
    map: SvgMap
    over_time: charts.StackedBars
    time_unit: str
    by_area: charts.HBars
    trend: charts.StackedBars
    outlook: sitrep_data.Outlook
    alerts: sitrep_data.AlertSection
    attributions: list[tuple[str, str]]
    restricted_uids: list[str] = field(default_factory=list)  # for the audit, never printed

    @property
    def rows_truncated(self) -> bool:
        return self.totals.incidents > len(self.rows)


def _place(record: dict[str, Any]) -> str:
    parts = [record.get("place_name"), record.get("admin2_name"), record.get("admin1_name")]
    return ", ".join(dict.fromkeys(p for p in parts if p)) or (record.get("country_iso3") or "")


def _period_text(start: Any, end: Any) -> str:
    return str(start) if start == end else f"{start} – {end}"


def _bin_of(day: date, unit: str) -> str:
    if unit == "day":
        return day.isoformat()
    if unit == "week":
        return (day - timedelta(days=day.weekday())).isoformat()
    return day.strftime("%Y-%m")


def _bins(period: Period, unit: str) -> list[str]:
    out: list[str] = []
    day = period.start
    while day <= period.end:
        key = _bin_of(day, unit)
        if not out or out[-1] != key:
            out.append(key)
        day += timedelta(days=1)
    return out


def _time_unit(period: Period) -> str:
    if period.days <= 62:
        return "day"
    if period.days <= 731:
        return "week"
    return "month"


def _trend_months(end: date) -> list[str]:
    year, month = end.year, end.month
    out = []
    for _ in range(TREND_MONTHS):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(out))


def _trend(conn: Connection, area: Area, period: Period, scope: AccessScope) -> charts.StackedBars:
    months = _trend_months(period.end)
    first = date.fromisoformat(months[0] + "-01")
    query = area.query(Period(first, period.end, ""))
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    if not scope.is_empty and scope.owner_user_id is None:
        store_scope = Scope(scope.tiers, scope.case_classes)
        for group in count_by(conn, query, store_scope, by=("month", "violence_type")):
            month, vtype = group.key
            if month is not None:
                key = vtype or "unknown"
                counts[month][key] = counts[month].get(key, 0) + group.events
    return charts.stacked_bars(months, counts, VIOLENCE_ORDER, height=140)


def build_sitrep(
    conn: Connection,
    period: Period,
    area: Area,
    tier: SensitivityTier,
    *,
    now: datetime | None = None,
    viewer: AccessScope | None = None,
) -> Sitrep:
    """The report's content for an audience of ``tier`` (and no wider than ``viewer``)."""
    now = now or datetime.now(UTC)
    scope = sitrep_data.audience_scope(tier, viewer)
    unit = _time_unit(period)
    per_bin: dict[str, Counter[str]] = defaultdict(Counter)
    by_admin1: Counter[str] = Counter()
    rows: list[IncidentRow] = []
    points: list[MapPoint] = []
    datasets: set[str] = set()
    restricted: list[str] = []
    n = deaths = civilians = without_location = 0
    for record, is_restricted in sitrep_data.incident_records(conn, area.query(period), scope):
        n += 1
        vtype = record.get("violence_type") or "unknown"
        start = record["date_start"]
        per_bin[_bin_of(max(start, period.start), unit)][vtype] += 1
        deaths += record.get("fatalities_best") or 0
        civilians += record.get("civilian_fatalities") or 0
        by_admin1[record.get("admin1_name") or "(unknown area)"] += 1
        datasets.add(record["dataset"])
        if is_restricted:
            restricted.append(record["uid"])
        lat, lon = record.get("latitude"), record.get("longitude")
        if lat is None or lon is None:
            without_location += 1
        else:
            points.append(MapPoint(lon, lat, vtype))
        if len(rows) < MAX_TABLE_ROWS:
            rows.append(
                IncidentRow(
                    date=_period_text(start, record["date_end"]),
                    place=_place(record),
                    violence_type=vtype,
                    perpetrators=record.get("perpetrators") or record.get("side_a") or "",
                    fatalities=record.get("fatalities_best"),
                    civilian_fatalities=record.get("civilian_fatalities"),
                    source_grades=record.get("source_grades") or "",
                    tier=record["sensitivity"],
                    title=record.get("title"),
                    location_withheld="latitude" not in record,
                )
            )
    if area.iso3 is not None:
        box = box_of_country(area.iso3)
    else:
        box = box_of_points(points) or box_of_country("CAF")
    focus = [area.iso3] if area.iso3 else []
    top_areas = by_admin1.most_common(12)
    attributions = [(d, attribution_for(d)) for d in sorted(datasets)]
    return Sitrep(
        period=period,
        area=area,
        tier=tier,
        generated_at=now,
        totals=Totals(n, deaths, civilians, len(restricted), without_location),
        rows=rows,
        map=render_map(points, box, width=720, focus=focus),
        over_time=charts.stacked_bars(_bins(period, unit), per_bin, VIOLENCE_ORDER),
        time_unit=unit,
        by_area=charts.horizontal_bars(top_areas),
        trend=_trend(conn, area, period, scope),
        outlook=sitrep_data.forecast_outlook(
            conn, tier, area.iso3, area.pcode_prefixes, period.end
        ),
        alerts=sitrep_data.alert_section(
            conn, period.start, period.end, area.alert_tokens, tier, now, scope.case_classes
        ),
        attributions=attributions,
        restricted_uids=restricted,
    )


# --- rendering ----------------------------------------------------------------------------


def render_html(report: Sitrep, lang: str = "en") -> str:
    """One self-contained HTML document (inline stylesheet, inline SVG)."""
    env = environment(lang)
    return env.get_template("sitrep.html").render(
        r=report,
        lang=lang,
        css=SITREP_CSS.read_text(encoding="utf-8"),
        colours=VIOLENCE_COLOURS,
        map_colours=MAP_COLOURS,
        focus_border=FOCUS_BORDER,
        violence_labels=VIOLENCE_LABELS,
        violence_order=VIOLENCE_ORDER,
        tier_labels=TIER_LABELS,
        natural_earth=NATURAL_EARTH,
    )


def _refuse_urls(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"the report fetches nothing; refused {url[:60]!r}")


def render_pdf(html: str) -> bytes:
    """The HTML printed to PDF by WeasyPrint, with every external fetch refused."""
    from weasyprint import HTML  # imported here: it loads Pango and takes a second

    return HTML(string=html, url_fetcher=_refuse_urls).write_pdf()


def file_stem(report: Sitrep) -> str:
    period = re.sub(r"[^0-9A-Za-z-]+", "_", report.period.label)
    return f"sitrep_{report.area.code}_{period}_{report.tier.value}"


def write_files(
    report: Sitrep, out_dir: Path, formats: Iterable[str], lang: str = "en"
) -> list[Path]:
    """Writes the report as ``<stem>.html`` and/or ``<stem>.pdf``; each file appears whole or
    not at all (written to a temporary name, then renamed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html = render_html(report, lang)
    written = []
    for fmt in formats:
        data = html.encode("utf-8") if fmt == "html" else render_pdf(html)
        target = out_dir / f"{file_stem(report)}.{fmt}"
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        written.append(target)
    return written


def generation_details(report: Sitrep, formats: Sequence[str]) -> dict[str, Any]:
    """What the audit entry of a report records: what was asked, and the restricted cases
    it included."""
    details: dict[str, Any] = {
        "period": report.period.label,
        "area": report.area.code,
        "tier": report.tier.value,
        "formats": list(formats),
        "incidents": report.totals.incidents,
    }
    if report.restricted_uids:
        details["uids"] = report.restricted_uids
    return details


def audit_target(report: Sitrep) -> str:
    return f"area:{report.area.code}"


def audit_generation(
    conn: Connection, report: Sitrep, actor: Actor, formats: Sequence[str]
) -> None:
    """One audit entry per report (see :func:`generation_details`)."""
    audit_record(
        conn, actor, "sitrep.generate", audit_target(report), generation_details(report, formats)
    )
