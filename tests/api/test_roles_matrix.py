"""The generated role x tier x case class x field matrix over every output (TM-01..TM-03).

One event per tier and case class, each with distinctive values in every identifying field,
half of them filed by the field reporter. Each role reads everything through the API (JSON)
and the CSV, GeoJSON and HXL exports; every matrix cell then asserts what the output contains
and what it leaves out, against the expectation table ``SPEC`` below, written from the
issue's rules independently of ``tocsin.security.policies``
(``test_policy_table_matches_the_spec`` ties the two together).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.support import (
    add_token,
    add_user,
    make_env,
    matrix_event,
    secret_values,
    store_events,
)
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security import persons
from tocsin.security.policies import ROLE_POLICIES, Role
from tocsin.store.db import make_engine

T = SensitivityTier
C = CaseClass
ALL_GROUPS = frozenset({"persons", "precise_location", "sources", "narrative"})


@dataclass(frozen=True)
class Expect:
    max_tier: SensitivityTier
    classes: frozenset[CaseClass]
    groups: frozenset[str]  # identifying field groups the role may see on restricted cases
    own_only: bool = False
    exports: bool = True


SPEC: dict[Role, Expect] = {
    Role.ADMIN: Expect(T.CONFIDENTIAL, frozenset(C), ALL_GROUPS),
    Role.ANALYST: Expect(
        T.RESTRICTED, frozenset({C.GENERAL}), frozenset({"precise_location", "narrative"})
    ),
    Role.HUMAN_RIGHTS_OFFICER: Expect(T.CONFIDENTIAL, frozenset({C.GENERAL}), ALL_GROUPS),
    Role.PROTECTION_OFFICER: Expect(T.CONFIDENTIAL, frozenset(C), ALL_GROUPS),
    Role.COMMANDER: Expect(T.RESTRICTED, frozenset({C.GENERAL}), frozenset(), exports=False),
    Role.FIELD_REPORTER: Expect(
        T.INTERNAL, frozenset({C.GENERAL}), frozenset(), own_only=True, exports=False
    ),
    Role.PARTNER: Expect(T.PUBLIC, frozenset({C.GENERAL}), frozenset()),
}
ROLES = list(SPEC)
OUTPUTS = ("api", "csv", "geojson", "hxl")
GROUP_VALUES = {
    "persons": ("person", "contact"),
    "precise_location": ("place_name", "latitude"),
    "sources": ("source",),
    "narrative": ("title", "description", "victim"),
}


def tag_of(tier: SensitivityTier, case_class: CaseClass, own: bool) -> str:
    return f"{tier.value}-{case_class.value}-{'own' if own else 'other'}"


def restricted_case(tier: SensitivityTier, case_class: CaseClass) -> bool:
    return tier in (T.RESTRICTED, T.CONFIDENTIAL) or case_class is not C.GENERAL


def expected_visible_record(role: Role, tier: SensitivityTier, cc: CaseClass, own: bool) -> bool:
    spec = SPEC[role]
    order = [T.PUBLIC, T.INTERNAL, T.RESTRICTED, T.CONFIDENTIAL]
    in_scope = order.index(tier) <= order.index(spec.max_tier) and cc in spec.classes
    return in_scope and (own or not spec.own_only)


def expected_visible_group(
    role: Role, tier: SensitivityTier, cc: CaseClass, group: str, output: str
) -> bool:
    if group == "persons":
        return output == "api" and "persons" in SPEC[role].groups  # never in bulk exports
    return not restricted_case(tier, cc) or group in SPEC[role].groups


@dataclass
class Output:
    status: int
    text: str
    records: dict[str, dict[str, Any]]  # original_id (tag) -> record as the output shows it
    columns: list[str] | None  # tabular outputs: the header


def _parse(output: str, text: str) -> tuple[dict[str, dict[str, Any]], list[str] | None]:
    if output == "api":
        items = json.loads(text)["items"]
        return {r["original_id"]: r for r in items}, None
    if output == "geojson":
        features = json.loads(text)["features"]
        return {f["properties"]["original_id"]: f for f in features}, None
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    body = rows[2:] if output == "hxl" else rows[1:]
    key = header.index("original_id")
    return {r[key]: dict(zip(header, r, strict=True)) for r in body}, header


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[Role, str], Output]:
    root = tmp_path_factory.mktemp("matrix")
    engine = make_engine(f"sqlite:///{root / 'tocsin.sqlite'}")
    env = make_env(engine, root / "home")
    accounts = {role: add_user(env, role.value.replace("_", "-"), role) for role in ROLES}
    events, people, owned = [], {}, []
    for tier in T:
        for cc in C:
            for own in (True, False):
                tag = tag_of(tier, cc, own)
                ev = matrix_event(tier, cc, tag)
                v = secret_values(tag)
                people[ev.uid] = [
                    persons.Person(persons.PersonRole.VICTIM, v["person"], v["contact"])
                ]
                (owned if own else events).append(ev)
    store_events(env, events, people)
    store_events(env, owned, people, owner=accounts[Role.FIELD_REPORTER])
    result: dict[tuple[Role, str], Output] = {}
    for role in ROLES:
        headers = add_token(env, accounts[role], ("read", "export"))
        for output in OUTPUTS:
            if output == "api":
                r = env.client.get("/api/v1/events", params={"limit": 500}, headers=headers)
            else:
                r = env.client.get(
                    "/api/v1/exports/events", params={"format": output}, headers=headers
                )
            if r.status_code == 200:
                records, columns = _parse(output, r.text)
                result[role, output] = Output(200, r.text, records, columns)
            else:
                result[role, output] = Output(r.status_code, r.text, {}, None)
    yield result
    engine.dispose()


def test_policy_table_matches_the_spec() -> None:
    for role, spec in SPEC.items():
        policy = ROLE_POLICIES[role]
        assert policy.max_tier is spec.max_tier, role
        assert policy.case_classes == spec.classes, role
        assert {g.value for g in policy.fields} == spec.groups, role
        assert policy.own_records_only is spec.own_only, role
        assert ("export" in {p.value for p in policy.permissions}) is spec.exports, role


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("role", ROLES)
def test_export_permission(outputs, role: Role, output: str) -> None:
    got = outputs[role, output]
    if output == "api" or SPEC[role].exports:
        assert got.status == 200, got.text
    else:
        assert got.status == 403  # no export permission: no file at all


CELLS = [(tier, cc) for tier in T for cc in C]


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize(("tier", "case_class"), CELLS, ids=[f"{t}-{c}" for t, c in CELLS])
@pytest.mark.parametrize("role", ROLES)
def test_tm01_record_level(outputs, role, tier, case_class, output) -> None:
    got = outputs[role, output]
    if got.status != 200:
        return  # covered by test_export_permission
    for own in (True, False):
        tag = tag_of(tier, case_class, own)
        visible = expected_visible_record(role, tier, case_class, own)
        assert (tag in got.records) is visible, (tag, "should" if visible else "should not")
        if not visible:
            # Nothing of an out-of-scope record leaks anywhere in the output.
            assert tag not in got.text
            for value in secret_values(tag).values():
                assert str(value) not in got.text


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize(("tier", "case_class"), CELLS, ids=[f"{t}-{c}" for t, c in CELLS])
@pytest.mark.parametrize("role", ROLES)
def test_tm02_field_level(outputs, role, tier, case_class, output) -> None:
    """Each identifying field group of a visible record: present iff allowed, and when not
    allowed, absent (not blank) from the record."""
    got = outputs[role, output]
    if got.status != 200:
        return
    for own in (True, False):
        tag = tag_of(tier, case_class, own)
        if tag not in got.records:
            continue  # record-level test covers it
        record = got.records[tag]
        values = secret_values(tag)
        shown = json.dumps(record, default=str)
        for group, names in GROUP_VALUES.items():
            allowed = expected_visible_group(role, tier, case_class, group, output)
            for name in names:
                assert (str(values[name]) in shown) is allowed, (tag, group, name)
            if not allowed:
                _assert_absent_not_blank(record, group, output)


_KEYS = {
    "persons": ("persons",),
    "precise_location": ("latitude", "longitude", "place_name"),
    "sources": ("sources",),
    "narrative": ("title", "description", "victim_groups"),
}


def _assert_absent_not_blank(record: dict[str, Any], group: str, output: str) -> None:
    if output == "api":
        for key in _KEYS[group]:
            assert key not in record, f"{key} present (even as null) in the API record"
    elif output == "geojson":
        for key in _KEYS[group]:
            assert key not in record["properties"]
        if group == "precise_location":
            assert record["geometry"] is None
    else:  # CSV and HXL: a column some rows may show is empty on the others
        for key in _KEYS[group]:
            assert record.get(key, "") == ""


@pytest.mark.parametrize("output", ["csv", "hxl"])
@pytest.mark.parametrize("role", ROLES)
def test_tm07_columns(outputs, role: Role, output: str) -> None:
    """A column no record may show is left out of the file; one that some rows may show
    stays (every role sees public general records, where nothing but names is protected)."""
    got = outputs[role, output]
    if got.status != 200:
        return
    assert "persons" not in got.columns  # names never leave in bulk (TM-07)
    for group in ("precise_location", "sources", "narrative"):
        assert _KEYS[group][0] in got.columns
    if output == "hxl":
        tags = next(csv.reader(io.StringIO(got.text.split("\r\n", 2)[1])))
        assert tags[got.columns.index("uid")] == "#event+uid"
        assert tags[got.columns.index("latitude")] == "#geo+lat"
