"""OpenRosa: hostile XML, submission mapping, attachments, formList, and the shipped form."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring

from tocsin.domain.taxonomy import ActType, CaseClass, PocThreatCategory
from tocsin.intake.openrosa import (
    INCIDENT_FORM_ID,
    MAX_ATTACHMENT_BYTES,
    MAX_SUBMISSION_XML_BYTES,
    OPENROSA_HEADERS,
    FormDescriptor,
    SubmissionError,
    check_attachment,
    form_list_xml,
    parse_submission,
    report_from_submission,
    shipped_forms,
    submission_response_xml,
)

NOW = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)
UUID = "uuid:0b7a8b4e-6c1f-4d7a-9b3e-2f1a0c9d8e7f"
FORMS = Path(__file__).resolve().parents[2] / "src" / "tocsin" / "intake" / "forms"


def submission(fields: str = "", instance_id: str = UUID, form_id: str = INCIDENT_FORM_ID) -> bytes:
    return (
        f'<?xml version="1.0"?><data id="{form_id}" version="2024052001" '
        'xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms">'
        f"{fields}<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


FULL = (
    "<incident_date>2024-05-18</incident_date>"
    "<location>6.5012 20.6534 512.0 8.5</location>"
    "<place_name>Ndélé</place_name>"
    "<threat>conflict_related_sexual_violence</threat>"
    "<acts>sexual_violence abduction</acts>"
    "<perpetrator_kind>armed_group</perpetrator_kind>"
    "<perpetrator_name>&lt;script&gt;x</perpetrator_name>"
    "<people_killed>0</people_killed><people_injured>2</people_injured>"
    "<children_involved>yes</children_involved>"
    "<description>Two women attacked near the well</description>"
    "<source_type>witness</source_type>"
    "<photo>1716200000000.jpg</photo>"
    "<contact_consent>yes</contact_consent>"
    "<contact_phone>+236 72 12 34 56</contact_phone><contact_name/>"
)


def test_full_submission_maps_to_a_report() -> None:
    sub = parse_submission(submission(FULL))
    assert sub.form_id == INCIDENT_FORM_ID and sub.instance_id == UUID
    report = report_from_submission(sub, received_at=NOW)
    assert report.channel == "odk" and report.external_id == UUID
    assert (report.latitude, report.longitude, report.location_accuracy_m) == (6.5012, 20.6534, 8.5)
    assert report.threat is PocThreatCategory.CONFLICT_RELATED_SEXUAL_VIOLENCE
    assert report.act_types == (ActType.SEXUAL_VIOLENCE, ActType.ABDUCTION)
    assert report.killed == 0 and report.injured == 2 and report.children_involved is True
    assert report.perpetrator_name == "<script>x"  # kept verbatim, escaped where shown
    assert report.contact is not None and report.contact.phone == "+236 72 12 34 56"
    assert report.contact.name is None
    assert report.attachments == ("1716200000000.jpg",)
    assert report.case_class() is CaseClass.SEXUAL_VIOLENCE
    candidate = report.candidate("r-1", country_iso3="CAF")
    assert candidate.source == "odk" and candidate.location_radius_km == 0.5


def test_minimal_submission_and_no_contact_without_consent() -> None:
    fields = (
        "<incident_date>2024-05-18</incident_date><threat>attack_on_civilians</threat>"
        "<description>x</description><contact_consent>no</contact_consent>"
        "<contact_phone>+23672123456</contact_phone>"
    )
    report = report_from_submission(parse_submission(submission(fields)), received_at=NOW)
    assert report.contact is None and report.latitude is None and report.act_types == ()


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<data id="tocsin_incident_report"><description>&xxe;</description></data>'
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<data id="x"><d>&lol3;</d></data>'
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (XXE, "DTD"),
        (LAUGHS, "DTD"),
        (b"<data id='x'><unclosed></data>", "malformed XML"),
        (b"", "malformed XML"),
        (b"<data><meta><instanceID>" + UUID.encode() + b"</instanceID></meta></data>", "form id"),
        (submission(instance_id="not-a-uuid"), "instanceID"),
        (submission("<a>1</a><a>2</a>"), "more than once"),
        (submission("<x>" * 20 + "</x>" * 20), "deeper"),
        (submission("<f>v</f>" * 2100), "more than"),
        (submission("<description>" + "x" * 6000 + "</description>"), "longer"),
    ],
)
def test_hostile_and_malformed_xml_is_refused_clearly(data: bytes, message: str) -> None:
    with pytest.raises(SubmissionError, match=message):
        parse_submission(data)


def test_oversized_xml_is_413() -> None:
    big = submission("<description>" + "x" * MAX_SUBMISSION_XML_BYTES + "</description>")
    with pytest.raises(SubmissionError) as exc:
        parse_submission(big)
    assert exc.value.status == 413


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("<incident_date>2099-01-01</incident_date>", "future"),
        ("<incident_date>yesterday</incident_date>", "not a date"),
        ("<location>91 0 0 0</location>", "out of range"),
        ("<location>here</location>", "geopoint"),
        ("<threat>alien_invasion</threat>", "unknown value"),
        ("<acts>killing teleportation</acts>", "unknown value"),
        ("<people_killed>-3</people_killed>", "whole number"),
        ("<people_killed>1e9</people_killed>", "whole number"),
        ("<contact_consent>maybe</contact_consent>", "unknown value"),
    ],
)
def test_invalid_values_are_refused(fields: str, message: str) -> None:
    with pytest.raises(SubmissionError, match=message):
        report_from_submission(parse_submission(submission(fields)), received_at=NOW)


def test_unknown_form_is_404() -> None:
    with pytest.raises(SubmissionError) as exc:
        report_from_submission(parse_submission(submission(form_id="other")), received_at=NOW)
    assert exc.value.status == 404


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def test_attachments() -> None:
    sub = parse_submission(submission(FULL))
    assert check_attachment(sub, "1716200000000.jpg", "image/jpeg", JPEG) == "1716200000000.jpg"
    cases = [
        ("../../etc/passwd", "image/jpeg", JPEG, 400),
        (".hidden.jpg", "image/jpeg", JPEG, 400),
        ("1716200000000.jpg", "text/html", JPEG, 415),
        ("1716200000000.jpg", "image/png", JPEG, 415),
        ("1716200000000.jpg", "image/jpeg", b"<html>", 415),
        ("other.jpg", "image/jpeg", JPEG, 400),
        ("1716200000000.jpg", "image/jpeg", JPEG + b"\x00" * MAX_ATTACHMENT_BYTES, 413),
    ]
    for name, ctype, data, status in cases:
        with pytest.raises(SubmissionError) as exc:
            check_attachment(sub, name, ctype, data)
        assert exc.value.status == status, name


def test_form_list_and_response_documents() -> None:
    forms = shipped_forms()
    assert INCIDENT_FORM_ID in forms
    doc = form_list_xml(forms.values(), "https://tocsin.example.org/odk/")
    root = fromstring(doc)
    ns = "{http://openrosa.org/xforms/xformsList}"
    item = root.find(f"{ns}xform")
    assert item is not None
    assert item.findtext(f"{ns}formID") == INCIDENT_FORM_ID
    assert item.findtext(f"{ns}hash").startswith("md5:")
    assert item.findtext(f"{ns}downloadUrl") == (
        "https://tocsin.example.org/odk/forms/tocsin_incident_report/form.xml"
    )
    # Names are escaped, never injected.
    evil = FormDescriptor("f<1>", None, "<b>&", b"<x/>")
    assert b"<b>&" not in form_list_xml([evil], "https://x")
    response = fromstring(submission_response_xml("Thank you <3"))
    assert response[0].get("nature") == "submit_success" and response[0].text == "Thank you <3"
    assert OPENROSA_HEADERS["X-OpenRosa-Version"] == "1.0"


def test_form_descriptor_rejects_non_forms() -> None:
    with pytest.raises(SubmissionError):
        FormDescriptor.from_xform(b"<html/>")
    with pytest.raises(SubmissionError):
        FormDescriptor.from_xform(XXE)


def test_shipped_form_has_three_languages_and_no_device_metadata() -> None:
    xml = (FORMS / "incident_report.xml").read_text(encoding="utf-8")
    for lang in ("English (en)", "Français (fr)", "العربية (ar)"):
        assert f'lang="{lang}"' in xml
    for leak in ("deviceid", "phonenumber", "simserial", "subscriberid", 'jr:preload="timestamp"'):
        assert leak not in xml
    form = shipped_forms()[INCIDENT_FORM_ID]
    assert form.version and form.name.startswith("Incident report")


def test_shipped_xform_is_the_conversion_of_the_shipped_xlsform() -> None:
    spec = importlib.util.spec_from_file_location(
        "build_xlsform", FORMS.parents[3] / "scripts" / "dev" / "build_xlsform.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    converted = module.convert_to_xform(FORMS / "incident_report.xlsx")
    assert converted == (FORMS / "incident_report.xml").read_text(encoding="utf-8")
