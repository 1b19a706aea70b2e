"""The OpenRosa 1.0 endpoints over HTTP, as ODK Collect, KoboCollect and Enketo use them."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring
from sqlalchemy import Engine

from tests.api.support import Env, add_token, add_user
from tests.intake.channel_support import count_attachments, count_reports, intake_env, ledger
from tocsin.api.settings import INTAKE_BODY_LIMITS
from tocsin.intake import openrosa as orx
from tocsin.security.policies import Role

UUID = "uuid:0b7a8b4e-6c1f-4d7a-9b3e-2f1a0c9d8e7f"
PHOTO = "1716200000000.jpg"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 2048
FIELDS = (
    "<incident_date>2024-05-18</incident_date>"
    "<location>6.5012 20.6534 512.0 8.5</location>"
    "<place_name>Ndele</place_name><threat>attack_on_civilians</threat>"
    "<description>&lt;script&gt;alert(1)&lt;/script&gt; houses burned</description>"
    f"<photo>{PHOTO}</photo>"
    "<contact_consent>yes</contact_consent><contact_phone>+23672123456</contact_phone>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<data id="tocsin_incident_report"><description>&xxe;</description></data>'
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b'<data id="tocsin_incident_report"><d>&lol3;</d></data>'
)


def instance(fields: str = FIELDS, instance_id: str = UUID) -> bytes:
    return (
        f'<?xml version="1.0"?><data id="{orx.INCIDENT_FORM_ID}" version="2024052001">'
        f"{fields}<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def basic(username: str, token: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{token}".encode()).decode()
    return {"Authorization": f"Basic {raw}", "X-OpenRosa-Version": "1.0"}


@pytest.fixture
def odk(engine: Engine, tmp_path: Path):
    with intake_env(engine, tmp_path / "home") as (env, _):
        reporter = add_user(env, "fieldwoman", Role.FIELD_REPORTER)
        token = add_token(env, reporter, ("write",))["Authorization"].removeprefix("Bearer ")
        yield env, basic("fieldwoman", token)


def submit(env: Env, auth: dict[str, str], xml: bytes, *files, xml_type: str = "text/xml"):
    parts = [("xml_submission_file", ("submission.xml", xml, xml_type)), *files]
    return env.client.post("/openrosa/submission", files=parts, headers=auth)


def photo(name: str = PHOTO, data: bytes = JPEG, ctype: str = "image/jpeg"):
    return (name, (name, data, ctype))


def message_of(response) -> str:
    root = fromstring(response.content)
    return root.findtext("{http://openrosa.org/http/response}message") or ""


# -- discovery --------------------------------------------------------------------------------


def test_form_list_and_download(odk) -> None:
    env, auth = odk
    listing = env.client.get("/openrosa/formList", headers=auth)
    assert listing.status_code == 200
    assert listing.headers["X-OpenRosa-Version"] == "1.0"
    assert int(listing.headers["X-OpenRosa-Accept-Content-Length"]) > 10 * 1024 * 1024
    assert listing.headers["content-type"].startswith("text/xml")
    ns = "{http://openrosa.org/xforms/xformsList}"
    item = fromstring(listing.content).find(f"{ns}xform")
    assert item.findtext(f"{ns}formID") == orx.INCIDENT_FORM_ID
    url = item.findtext(f"{ns}downloadUrl")
    assert url == f"http://testserver/openrosa/forms/{orx.INCIDENT_FORM_ID}/form.xml"
    form = env.client.get(url, headers=auth)
    assert form.status_code == 200
    assert orx.FormDescriptor.from_xform(form.content).hash == item.findtext(f"{ns}hash")
    assert env.client.get("/openrosa/forms/nope/form.xml", headers=auth).status_code == 404
    filtered = env.client.get("/openrosa/formList?formID=nope", headers=auth)
    assert fromstring(filtered.content).find(f"{ns}xform") is None


def test_head_submission_announces_the_size_limit(odk) -> None:
    env, auth = odk
    response = env.client.head("/openrosa/submission", headers=auth)
    assert response.status_code == 204
    assert (
        response.headers["X-OpenRosa-Accept-Content-Length"]
        == (orx.OPENROSA_HEADERS["X-OpenRosa-Accept-Content-Length"])
    )
    # The body limit of the server is at least what it announces.
    announced = int(orx.OPENROSA_HEADERS["X-OpenRosa-Accept-Content-Length"])
    assert INTAKE_BODY_LIMITS["/openrosa/submission"] >= announced


# -- TM-36 authentication ---------------------------------------------------------------------


def test_tm_36_every_endpoint_challenges_for_basic_credentials(odk) -> None:
    env, _ = odk
    for method, path in (
        ("GET", "/openrosa/formList"),
        ("GET", f"/openrosa/forms/{orx.INCIDENT_FORM_ID}/form.xml"),
        ("HEAD", "/openrosa/submission"),
    ):
        response = env.client.request(method, path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert submit(env, {}, instance()).status_code == 401
    assert count_reports(env.engine) == 0


def test_tm_36_account_password_wrong_user_and_revoked_tokens_are_refused(odk) -> None:
    env, auth = odk
    token = base64.b64decode(auth["Authorization"].split()[1]).decode().split(":", 1)[1]
    from tests.api.support import PASSWORD

    assert (
        env.client.get("/openrosa/formList", headers=basic("fieldwoman", PASSWORD)).status_code
        == 401
    )
    add_user(env, "someoneelse", Role.FIELD_REPORTER)
    assert (
        env.client.get("/openrosa/formList", headers=basic("someoneelse", token)).status_code == 401
    )
    garbage = {"Authorization": "Basic !!!notbase64"}
    assert env.client.get("/openrosa/formList", headers=garbage).status_code == 401
    # Case differences in the user name typed on a phone are tolerated.
    assert (
        env.client.get("/openrosa/formList", headers=basic("FieldWoman", token)).status_code == 200
    )


def test_tm_36_roles_and_scopes_that_may_not_file_reports(odk) -> None:
    env, _ = odk
    commander = add_user(env, "commander", Role.COMMANDER)
    token = add_token(env, commander, ("read",))["Authorization"].removeprefix("Bearer ")
    assert (
        env.client.get("/openrosa/formList", headers=basic("commander", token)).status_code == 403
    )
    reader = add_user(env, "reader", Role.FIELD_REPORTER)
    read_only = add_token(env, reader, ("read",))["Authorization"].removeprefix("Bearer ")
    response = submit(env, basic("reader", read_only), instance())
    assert response.status_code == 403
    assert count_reports(env.engine) == 0


# -- submissions ------------------------------------------------------------------------------


def test_submission_with_an_image_attachment_is_stored(odk) -> None:
    env, auth = odk
    response = submit(env, auth, instance(), photo())
    assert response.status_code == 201, response.text
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert message_of(response) == "Report received. Thank you."
    assert count_reports(env.engine) == 1 and count_attachments(env.engine) == 1
    assert "+23672123456" not in response.text and "<script" not in response.text
    entries = ledger(env.engine)
    assert any(action == "report.received" for _, action, _, _ in entries)
    filed = [e for e in entries if e[1] == "report.filed_via_openrosa"]
    assert len(filed) == 1 and filed[0][0].startswith("fieldwoman via token:")


def test_tm_37_resubmission_is_idempotent(odk) -> None:
    env, auth = odk
    assert submit(env, auth, instance(), photo()).status_code == 201
    again = submit(env, auth, instance(), photo())
    assert again.status_code == 201
    assert "already received" in message_of(again)
    assert count_reports(env.engine) == 1 and count_attachments(env.engine) == 1
    assert [e[1] for e in ledger(env.engine)].count("report.filed_via_openrosa") == 1


HOSTILE = [
    (XXE, 400, "DTD"),
    (LAUGHS, 400, "DTD"),
    (b"<data id='x'><unclosed></data>", 400, "malformed XML"),
    (instance(instance_id="not-a-uuid"), 400, "instanceID"),
    (instance("<people_killed>-3</people_killed>"), 400, "people_killed"),
    (
        instance("<description>" + "x" * orx.MAX_SUBMISSION_XML_BYTES + "</description>"),
        413,
        "larger",
    ),
]


def test_tm_35_hostile_xml_is_refused_and_nothing_is_stored(odk) -> None:
    env, auth = odk
    for xml, status, reason in HOSTILE:
        response = submit(env, auth, xml)
        assert response.status_code == status, response.text
        assert reason in message_of(response)
        assert "root:" not in response.text  # no /etc/passwd, whatever happens
    assert count_reports(env.engine) == 0


def test_tm_37_bad_attachments_leave_nothing_half_written(odk) -> None:
    env, auth = odk
    cases = [
        (photo(data=b"<html><script>x</script>"), 415),  # not a JPEG
        (photo(ctype="text/html"), 415),
        (photo(name="../../etc/passwd"), 400),
        (photo(name="unreferenced.jpg"), 400),
        (photo(data=JPEG + b"\x00" * orx.MAX_ATTACHMENT_BYTES), 413),
    ]
    for part, status in cases:
        response = submit(env, auth, instance(), part)
        assert response.status_code == status, (part[0], response.text)
    too_many = [photo() for _ in range(orx.MAX_ATTACHMENTS + 1)]
    response = submit(env, auth, instance(), *too_many)
    assert response.status_code == 400 and "Too many files" in message_of(response)
    assert count_reports(env.engine) == 0 and count_attachments(env.engine) == 0


def test_tm_37_wrong_content_types_and_missing_parts(odk) -> None:
    env, auth = odk
    as_json = env.client.post("/openrosa/submission", json={"x": 1}, headers=auth)
    assert as_json.status_code == 415
    no_xml = env.client.post("/openrosa/submission", files=[photo()], headers=auth)
    assert no_xml.status_code == 400 and "xml_submission_file" in message_of(no_xml)
    html = submit(env, auth, instance(), xml_type="text/html")
    assert html.status_code == 415
    split = env.client.post(
        "/openrosa/submission",
        files=[("xml_submission_file", ("s.xml", instance(), "text/xml"))],
        data={"*isIncomplete*": "yes"},
        headers=auth,
    )
    assert split.status_code == 413
    assert count_reports(env.engine) == 0


def test_tm_33_oversized_submission_body_is_413_before_reading(odk) -> None:
    env, auth = odk
    limit = INTAKE_BODY_LIMITS["/openrosa/submission"]
    headers = {**auth, "Content-Type": "multipart/form-data; boundary=x"}
    headers["Content-Length"] = str(limit + 1)
    response = env.client.post("/openrosa/submission", content=b"x" * 10, headers=headers)
    assert response.status_code == 413
