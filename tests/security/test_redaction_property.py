"""Property-based tests (hypothesis) of the serialization-boundary redaction.

For any role, any record (any tier, case class, owner, field values) and either channel, the
redacted record is exactly the spec: out-of-scope records vanish, forbidden keys are absent,
everything else is untouched.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.api.test_roles_matrix import SPEC, expected_visible_group, expected_visible_record
from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security.policies import FIELD_GROUP_KEYS, Role, policy_for, record_scope
from tocsin.security.redaction import Channel, redact_record, visible_columns
from tocsin.store.export import RECORD_FIELDS

PROTECTED_KEYS = {k for keys in FIELD_GROUP_KEYS.values() for k in keys}
REPORTER_ID = 42

values = st.one_of(st.none(), st.text(max_size=20), st.integers(-5, 5), st.floats(-90, 90))
records = st.fixed_dictionaries(
    {
        "uid": st.uuids().map(str),
        "sensitivity": st.sampled_from([t.value for t in SensitivityTier]),
        "case_class": st.sampled_from([c.value for c in CaseClass]),
        **{key: values for key in sorted(PROTECTED_KEYS)},
        "admin1_pcode": values,
        "fatalities_best": values,
    }
)


@settings(max_examples=400, deadline=None)
@given(
    role=st.sampled_from(list(SPEC)),
    record=records,
    owner=st.sampled_from([None, REPORTER_ID, 7]),
    channel=st.sampled_from(list(Channel)),
)
def test_tm02_redaction_matches_the_spec(role: Role, record, owner, channel: Channel) -> None:
    scope = record_scope(policy_for(role), REPORTER_ID)
    out = redact_record(record, scope, channel, owner)
    tier = SensitivityTier(record["sensitivity"])
    cc = CaseClass(record["case_class"])
    if not expected_visible_record(role, tier, cc, owner == REPORTER_ID):
        assert out is None
        return
    assert out is not None
    output = "api" if channel is Channel.API else "csv"
    for group, keys in FIELD_GROUP_KEYS.items():
        allowed = expected_visible_group(role, tier, cc, group.value, output)
        for key in keys:
            if key in record:
                assert (key in out) is allowed, (group, key)
                if allowed:
                    assert out[key] == record[key] or (
                        out[key] != out[key] and record[key] != record[key]  # NaN
                    )
    for key in record.keys() - PROTECTED_KEYS:
        assert out[key] == record[key]


@settings(max_examples=50, deadline=None)
@given(role=st.sampled_from(list(SPEC)), channel=st.sampled_from(list(Channel)))
def test_columns_only_drop_what_no_record_in_scope_may_show(role: Role, channel) -> None:
    scope = record_scope(policy_for(role), REPORTER_ID)
    columns = visible_columns([*RECORD_FIELDS, "persons"], scope, channel)
    assert "persons" not in columns or (channel is Channel.API and "persons" in SPEC[role].groups)
    for name in RECORD_FIELDS:
        if name not in PROTECTED_KEYS:
            assert name in columns


def test_a_record_that_cannot_be_classified_never_leaves() -> None:
    scope = record_scope(policy_for(Role.ADMIN), 1)
    with pytest.raises(ValueError, match="cannot be authorised"):
        redact_record({"uid": "x", "title": "t"}, scope, Channel.API)
