"""Insecurity Insight "Security in Numbers" (SiND) incident records: a JSON array of flat
objects, streamed with ijson so that a large file is never loaded whole.

The four published files differ in their keys; the file kind is recognised from the first
record and decides the dataset (each file its own dataset, because the same SiND id can appear
in two files with different details, e.g. an attack on a school that is also an attack on aid
workers; keeping them apart means importing one file never overwrites another's record):

=================  ==================================  ===================================
kind               recognised by                       dataset
=================  ==================================  ===================================
sexual violence    ``Type of SV``                      ``insecurity_insight_sv``
education          ``Attacks on Schools``              ``insecurity_insight_education``
protection         ``Protection Event Context``        ``insecurity_insight_protection``
aid workers        ``Aid Workers Killed``              ``insecurity_insight_aid_workers``
other              none of the above                   ``insecurity_insight``
=================  ==================================  ===================================

The id is ``SIND Event ID`` (also spelt ``SiND Event ID`` and ``SiND ID``). Record numbers
(``line`` in reports) are 1-based positions in the array.

Mapping:

- date: ``Date`` (``2024-02-26`` or ``2024-02-28T00:00:00.000Z``); precision MONTH when the
  description starts with a month but no day ("February 2024: ..."), else DAY;
- place: ``Latitude``/``Longitude``, ``Admin 1``, ``Country ISO``; ``Geo Precision`` "(2) 25 km"
  -> NEAR, "(3) District" -> ADMIN2, "(4) Province" -> ADMIN1, "(5) Linear feature" -> AREA,
  "(6) Country" -> COUNTRY. "censored by HDX" means the publisher removed the location for
  safety: the event is kept without coordinates at COUNTRY precision (with a warning if the
  record still carried coordinates, which are then dropped);
- perpetrator: ``Reported Perpetrator Name`` (skipped when "No Information"/"Unknown"), kind
  from ``Reported Perpetrator`` (state military/police -> state force, NSA -> armed group,
  vigilante -> militia, civilian -> civilians);
- acts, victims and fatalities from the per-file counts (killed, injured, kidnapped, arrested,
  CRSV, attacks on schools / camps / aid workers); arrests are recorded as
  ``arbitrary_detention``, the nearest act type (the PoC concern is detention by armed actors);
- grading: C3. Insecurity Insight compiles open sources and partner reports with its own
  review, but the records are not independently verified;
- **tiers and case classes** (the rule, in order):

  1. sexual violence: every record of the SV file, and any record of another file with a
     CRSV / SV count above zero or whose description mentions rape or sexual violence ->
     case class ``sexual_violence``, tier ``restricted``; ``confidential`` when a minor is
     involved (``Adult or Minor`` names a minor, or the education file's SV count of
     school-age children);
  2. children: students killed, injured, kidnapped or arrested, or a protection victim who is
     a minor -> case class ``children``, tier ``restricted``;
  3. everything else: case class ``general``, tier ``public`` (the publisher already released
     it under CC BY, with sensitive locations censored).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import ijson

from tocsin.domain.entities import ActorLink, Event, Provenance, SourceRef, VictimGroup
from tocsin.domain.grading import InformationCredibility, SourceReliability
from tocsin.domain.taxonomy import (
    ActorKind,
    ActorRole,
    ActType,
    CaseClass,
    DatePrecision,
    LocationPrecision,
    PocThreatCategory,
    SensitivityTier,
    ViolenceType,
)
from tocsin.ingest.base import (
    FatalImportError,
    FormatReader,
    Parsed,
    Record,
    Rejected,
    clean_text,
    fast_stable_uid,
    grid_of,
    parse_float,
    parse_int,
    parse_iso_date,
)
from tocsin.ingest.countries import iso3_from_name, normalize_iso3

ID_KEYS = ("SIND Event ID", "SiND Event ID", "SiND ID", "SIND ID")
RELIABILITY = SourceReliability.C
CREDIBILITY = InformationCredibility.POSSIBLY_TRUE

KINDS: tuple[tuple[str, str], ...] = (
    ("Type of SV", "sv"),
    ("Attacks on Schools", "education"),
    ("Protection Event Context", "protection"),
    ("Aid Workers Killed", "aid_workers"),
)

_NO_INFO = {"", "no information", "unknown", "not applicable", "n/a", "none", "other"}
_MONTH_ONLY = re.compile(
    r"^\s*(January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+\d{4}\s*:",
    re.IGNORECASE,
)
_SEXUAL = re.compile(r"\b(rap(e|ed|es|ing)|sexual(ly)?|crsv)\b", re.IGNORECASE)
_GEO = {
    1: LocationPrecision.EXACT,
    2: LocationPrecision.NEAR,
    3: LocationPrecision.ADMIN2,
    4: LocationPrecision.ADMIN1,
    5: LocationPrecision.AREA,
    6: LocationPrecision.COUNTRY,
}
_GEO_CODE = re.compile(r"^\s*\((\d)\)")


def _perp_kind(category: str | None) -> ActorKind:
    text = (category or "").lower()
    if any(k in text for k in ("military", "police", "government", "security")):
        return ActorKind.STATE_FORCE
    if "nsa" in text or "armed group" in text or "non-state" in text:
        return ActorKind.ARMED_GROUP
    if "vigilante" in text or "militia" in text:
        return ActorKind.MILITIA
    if "civilian" in text:
        return ActorKind.CIVILIANS
    if text and text not in _NO_INFO:
        return ActorKind.OTHER
    return ActorKind.UNKNOWN


def _count(record: dict[str, object], *keys: str) -> int:
    total = 0
    for key in keys:
        value = record.get(key)
        if value is None or value == "" or value is False:
            continue
        if value is True:
            total += 1
            continue
        number = parse_int(value, key)
        total += number or 0
    return total


def _text(record: dict[str, object], key: str) -> str | None:
    value = clean_text(record.get(key))
    if value is None or value.lower() in _NO_INFO:
        return None
    return value


class InsecurityInsightReader(FormatReader):
    format_name = "insecurity_insight"

    def __init__(self, stream: BinaryIO, path: Path, dataset_version: str | None) -> None:
        self._version = dataset_version
        self.dataset_version = dataset_version
        self._items = ijson.items(stream, "item", use_float=True)
        try:
            first = next(self._items, None)
        except ijson.JSONError as exc:
            raise FatalImportError(f"malformed or truncated JSON: {exc}") from exc
        if first is None:
            raise FatalImportError("not Insecurity Insight records: no JSON array of objects")
        if not isinstance(first, dict) or not any(k in first for k in ID_KEYS):
            raise FatalImportError(
                "not Insecurity Insight records: the first object has no 'SIND Event ID'"
            )
        self._first = first
        self.kind = next((kind for key, kind in KINDS if key in first), None)
        self.dataset = f"insecurity_insight_{self.kind}" if self.kind else "insecurity_insight"

    def __iter__(self) -> Iterator[Record]:
        records = itertools.chain([self._first], self._items)
        try:
            for n, record in enumerate(records, start=1):
                yield self._convert(n, record)
        except ijson.JSONError as exc:
            raise FatalImportError(f"malformed or truncated JSON: {exc}") from exc

    def _convert(self, n: int, record: object) -> Record:
        if not isinstance(record, dict):
            return Rejected(n, "record is not a JSON object", repr(record)[:2000])
        warnings: list[str] = []
        try:
            event = self._event(record, warnings)
        except ValueError as exc:
            return Rejected(n, str(exc), record)
        return Parsed(n, event, record, warnings)

    def _event(self, r: dict[str, object], warnings: list[str]) -> Event:
        raw_id = next((r[k] for k in ID_KEYS if r.get(k) not in (None, "")), None)
        if raw_id is None:
            raise ValueError("SIND Event ID is missing")
        original_id = (
            str(parse_int(raw_id, "SIND Event ID"))
            if not isinstance(raw_id, str)
            else raw_id.strip()
        )
        if not original_id or len(original_id) > 128:
            raise ValueError("SIND Event ID is empty or too long")
        day = parse_iso_date(r.get("Date"), "Date")
        description = clean_text(r.get("Event Description"))
        precision = (
            DatePrecision.MONTH
            if description and _MONTH_ONLY.match(description)
            else DatePrecision.DAY
        )

        lat = parse_float(r.get("Latitude"), "Latitude")
        lon = parse_float(r.get("Longitude"), "Longitude")
        geo_text = clean_text(r.get("Geo Precision")) or ""
        location_precision: LocationPrecision | None = None
        if "censored" in geo_text.lower():
            if lat is not None or lon is not None:
                warnings.append("location marked censored by the publisher: coordinates dropped")
            lat = lon = None
            location_precision = LocationPrecision.COUNTRY
        else:
            match = _GEO_CODE.match(geo_text)
            if match:
                location_precision = _GEO.get(int(match.group(1)))
        iso3 = normalize_iso3(clean_text(r.get("Country ISO"))) or iso3_from_name(
            clean_text(r.get("Country"))
        )

        perp_name = _text(r, "Reported Perpetrator Name")
        perp_kind = _perp_kind(clean_text(r.get("Reported Perpetrator")))
        actors = (
            (ActorLink(perp_name[:255], ActorRole.PERPETRATOR, perp_kind),) if perp_name else ()
        )

        facts = _FACTS[self.kind or ""](r)
        sexual = (
            self.kind == "sv"
            or facts.sexual_violence > 0
            or bool(description and _SEXUAL.search(description))
        )
        acts = list(facts.acts)
        if sexual and ActType.SEXUAL_VIOLENCE not in acts:
            acts.append(ActType.SEXUAL_VIOLENCE)
        minors = facts.minors or "minor" in (clean_text(r.get("Adult or Minor ")) or "").lower()
        if sexual:
            case_class = CaseClass.SEXUAL_VIOLENCE
            tier = SensitivityTier.CONFIDENTIAL if minors else SensitivityTier.RESTRICTED
            threat = PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE
        elif minors:
            case_class, tier, threat = CaseClass.CHILDREN, SensitivityTier.RESTRICTED, facts.threat
        else:
            case_class, tier, threat = CaseClass.GENERAL, SensitivityTier.PUBLIC, facts.threat

        gid = grid_of(lat, lon)
        violence = ViolenceType.ONE_SIDED if perp_kind in _ARMED and facts.deaths else None
        return Event(
            provenance=Provenance(self.dataset, original_id, self._version),
            uid=fast_stable_uid(self.dataset, original_id),
            date_start=day,
            date_end=day,
            date_precision=precision,
            latitude=lat,
            longitude=lon,
            location_precision=location_precision,
            country_iso3=iso3,
            country_name=clean_text(r.get("Country")),
            admin1_name=_text(r, "Admin 1"),
            place_name=_text(r, "Camp Name"),
            priogrid_gid=gid,
            violence_type=violence,
            threat_category=threat,
            act_types=tuple(dict.fromkeys(acts)) or (ActType.OTHER,),
            actors=actors,
            victims=facts.victims,
            fatalities_best=facts.deaths,
            civilian_fatalities=facts.deaths if facts.deaths else None,
            sources=(
                SourceRef(
                    "Insecurity Insight", f"SiND {original_id}", None, RELIABILITY, CREDIBILITY
                ),
            ),
            sensitivity=tier,
            case_class=case_class,
            title=facts.title,
            description=description,
        )


_ARMED = {ActorKind.STATE_FORCE, ActorKind.ARMED_GROUP, ActorKind.MILITIA}


class _Facts:
    """What one record's counts say: acts, victims, deaths, minors, a title and a threat."""

    __slots__ = ("acts", "deaths", "minors", "sexual_violence", "threat", "title", "victims")

    def __init__(
        self,
        acts: list[ActType],
        victims: tuple[VictimGroup, ...],
        deaths: int,
        *,
        threat: PocThreatCategory | None,
        title: str,
        minors: bool = False,
        sexual_violence: int = 0,
    ) -> None:
        self.acts = acts
        self.victims = victims
        self.deaths = deaths
        self.threat = threat
        self.title = title
        self.minors = minors
        self.sexual_violence = sexual_violence


def _harm_acts(killed: int, injured: int, kidnapped: int, arrested: int) -> list[ActType]:
    acts = []
    if killed:
        acts.append(ActType.KILLING)
    if injured:
        acts.append(ActType.INJURY)
    if kidnapped:
        acts.append(ActType.ABDUCTION)
    if arrested:
        acts.append(ActType.ARBITRARY_DETENTION)
    return acts


def _sv_facts(r: dict[str, object]) -> _Facts:
    victims_n = parse_int(r.get("Number of Reported Victims"), "Number of Reported Victims")
    deaths = _count(r, "Reported Deaths Following the Sexual Violence")
    sex = (clean_text(r.get("Survivor Or Victim Sex")) or "").lower()
    ages = (clean_text(r.get("Adult or Minor ")) or "").lower()
    female = victims_n if sex in {"female"} else None
    male = victims_n if sex in {"male"} else None
    children = victims_n if "minor" in ages and "adult" not in ages else None
    adults = victims_n if "adult" in ages and "minor" not in ages else None
    who = clean_text(r.get("Survivor or Victim")) or "Survivors"
    acts = [ActType.SEXUAL_VIOLENCE] + ([ActType.KILLING] if deaths else [])
    kind = clean_text(r.get("Type of SV"))
    return _Facts(
        acts,
        (VictimGroup(f"Survivors: {who}", victims_n, female, male, children, adults),),
        deaths,
        threat=PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE,
        title=f"Sexual violence: {kind}" if kind else "Sexual violence",
        minors="minor" in ages,
        sexual_violence=max(victims_n or 0, 1),
    )


def _education_facts(r: dict[str, object]) -> _Facts:
    e_killed = _count(r, "Educators Killed")
    s_killed = _count(r, "Students Killed")
    injured = _count(r, "Educators Injured", "Students Injured")
    kidnapped = _count(r, "Educators Kidnapped", "Students Kidnapped")
    arrested = _count(r, "Educators Arrested", "Students Arrested")
    school = _count(
        r,
        "Attacks on Schools",
        "Attacks on Universities",
        "Military Occupation of Education facility",
        "Arson attack on education facility",
        "Forced Entry into education facility",
        "Damage/Destruction To Ed facility Event",
    )
    acts = ([ActType.ATTACK_ON_SCHOOL] if school else []) + _harm_acts(
        e_killed + s_killed, injured, kidnapped, arrested
    )
    students = _count(
        r,
        "Students Killed",
        "Students Injured",
        "Students Kidnapped",
        "Students Arrested",
        "Students Attacked in School",
    )
    educators = _count(
        r, "Educators Killed", "Educators Injured", "Educators Kidnapped", "Educators Arrested"
    )
    victims = tuple(
        VictimGroup(desc, n) for desc, n in (("Students", students), ("Educators", educators)) if n
    )
    facility = clean_text(r.get("Type of education facility"))
    return _Facts(
        acts,
        victims,
        e_killed + s_killed,
        threat=PocThreatCategory.GRAVE_VIOLATION_AGAINST_CHILDREN,
        title=f"Attack on education: {facility}" if facility else "Attack on education",
        minors=_count(
            r, "Students Killed", "Students Injured", "Students Kidnapped", "Students Arrested"
        )
        > 0,
        sexual_violence=_count(r, "Sexual Violence Affecting School Age Children"),
    )


def _protection_facts(r: dict[str, object]) -> _Facts:
    killed = _count(r, "Camp Resident Killed", "Service Provider Killed")
    injured = _count(r, "Camp Resident Injured")
    kidnapped = _count(r, "Camp Residents Kidnapped", "Service Provider Kidnapped")
    arrested = _count(r, "Camp Residents Arrested", "Service Provider Arrested")
    camp = _count(
        r,
        "Number of Attacks on Camps Reporting Destruction",
        "Number of Attacks on Camps Reporting Damaged",
    )
    residents = _count(
        r,
        "Camp Resident Killed",
        "Camp Resident Injured",
        "Camp Residents Kidnapped",
        "Camp Residents Arrested",
        "Camp Residents Targeted with CRSV",
    )
    providers = _count(
        r,
        "Service Provider Killed",
        "Service Provider Kidnapped",
        "Service Provider Arrested",
        "Service Provider Targeted with CRSV",
    )
    acts = ([ActType.ATTACK_ON_IDP_SITE] if camp or residents else []) + _harm_acts(
        killed, injured, kidnapped, arrested
    )
    if providers:
        acts.append(ActType.ATTACK_ON_AID_WORKERS)
    victims = tuple(
        VictimGroup(desc, n)
        for desc, n in (("Camp residents", residents), ("Service providers", providers))
        if n
    )
    threat = (
        PocThreatCategory.ATTACK_ON_HUMANITARIANS
        if providers and not residents
        else PocThreatCategory.ATTACK_ON_CIVILIANS
    )
    context = clean_text(r.get("Protection Event Context"))
    return _Facts(
        acts,
        victims,
        killed,
        threat=threat,
        title=f"Protection incident: {context}" if context else "Protection incident",
        minors=(clean_text(r.get("Survivor or Victim Minor")) or "").lower().startswith("minor"),
        sexual_violence=_count(
            r, "Camp Residents Targeted with CRSV", "Service Provider Targeted with CRSV"
        ),
    )


def _aid_worker_facts(r: dict[str, object]) -> _Facts:
    killed = _count(r, "Aid Workers Killed")
    injured = _count(r, "Aid Workers Injured")
    kidnapped = _count(r, "Aid Workers Kidnapped")
    arrested = _count(r, "Aid Workers Arrested")
    female = _count(
        r,
        "Female Aid Workers Killed",
        "Female Aid Workers Injured",
        "Female Aid Workers Kidnapped",
        "Female Aid Workers Arrested",
    )
    male = _count(
        r,
        "Male Aid Workers Killed",
        "Male Aid Workers Injured",
        "Male Aid Workers Kidnapped",
        "Male Aid Workers Arrested",
    )
    total = killed + injured + kidnapped + arrested
    victims = (VictimGroup("Aid workers", total, female or None, male or None),) if total else ()
    org = clean_text(r.get("Organisation Affected"))
    return _Facts(
        [ActType.ATTACK_ON_AID_WORKERS, *_harm_acts(killed, injured, kidnapped, arrested)],
        victims,
        killed,
        threat=PocThreatCategory.ATTACK_ON_HUMANITARIANS,
        title=f"Attack on aid workers: {org}" if org else "Attack on aid workers",
    )


def _generic_facts(r: dict[str, object]) -> _Facts:
    return _Facts([], (), 0, threat=None, title="Incident")


_FACTS = {
    "sv": _sv_facts,
    "education": _education_facts,
    "protection": _protection_facts,
    "aid_workers": _aid_worker_facts,
    "": _generic_facts,
}
