"""The public web form: no JavaScript needed, CSRF, languages (Arabic right to left), escaping,
receipts and the status page, limits, flood protection and minimal metadata."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.intake.public_support import (
    RECEIPT_RE,
    STATUS_RE,
    USER_AGENT,
    client_from,
    every_stored_value,
    form_token,
    intake_service,
    public_env,
)
from tocsin.domain.taxonomy import CaseClass
from tocsin.intake import repository as repo
from tocsin.intake.receipts import normalize_receipt
from tocsin.security.txn import write_transaction
from tocsin.store.schema_intake import intake_reports
from tocsin.verify.workflow import Officer, Role, Workflow
from tocsin.web.i18n import translations

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"
PHONE = "+236 75 12 34 56"


@pytest.fixture
def env(engine, tmp_path):
    """Both backends: for tests of what is stored."""
    with public_env(engine, tmp_path / "home") as e:
        yield e


@pytest.fixture
def web(sqlite_engine, tmp_path):
    """SQLite only: for tests of the HTTP surface (validation, CSRF, languages, limits)."""
    with public_env(sqlite_engine, tmp_path / "home") as e:
        yield e


def report_count(env) -> int:
    with env.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(intake_reports)).scalar_one()


def send(env, client=None, **fields):
    client = client or env.client
    data = {"form_token": form_token(client), "text": "Soldiers looted the clinic at Kaga."}
    data.update(fields)
    return client.post("/report", data=data)


def test_form_page_works_without_javascript(web) -> None:
    page = web.client.get("/report")
    assert page.status_code == 200
    html = page.text
    assert '<form method="post" action="/report"' in html
    for name in ("text", "occurred_on", "place_name", "latitude", "longitude", "phone"):
        assert f'name="{name}"' in html
    assert "<script>" not in html  # scripts only by src (CSP forbids inline ones)
    assert 'lang="en" dir="ltr"' in html
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"].lower()
    assert "tocsin_form=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "path=/report" in cookie


def test_no_js_post_stores_the_report_and_shows_a_receipt(env) -> None:
    response = send(
        env,
        text="Armed men entered the camp.\nTwo people missing.",
        occurred_on="2026-03-01",
        place_name="Kaga Bandoro",
        latitude="6,98",  # a decimal comma, as typed on a French phone keyboard
        longitude="19.18",
        threat="attack_on_civilians",
        phone=PHONE,
    )
    assert response.status_code == 200
    code = RECEIPT_RE.search(response.text).group(1)
    assert normalize_receipt(code) is not None
    assert code not in str(response.url)  # the code never travels in a URL
    service = intake_service(env)
    with env.engine.connect() as conn:
        report_id = repo.find_by_receipt(conn, code, service.pseudonymizer)
        stored = repo.load_report(conn, report_id)
    assert stored.report.text == "Armed men entered the camp.\nTwo people missing."
    assert (stored.report.latitude, stored.report.longitude) == (6.98, 19.18)
    assert stored.report.place_name == "Kaga Bandoro"
    assert stored.report.language == "en"
    assert stored.has_contact and stored.reporter_pseudonym.startswith("R-")


def test_children_checkbox_routes_to_protection(web) -> None:
    response = send(web, children_involved="yes")
    code = RECEIPT_RE.search(response.text).group(1)
    with web.engine.connect() as conn:
        report_id = repo.find_by_receipt(conn, code, intake_service(web).pseudonymizer)
        assert repo.load_case(conn, report_id).case_class is CaseClass.CHILDREN


INVALID_FORMS = [
    ({"text": ""}, "Describe what happened"),
    ({"text": "x" * 5001}, "Describe what happened"),
    ({"latitude": "4.3"}, "Give both latitude and longitude"),
    ({"latitude": "north", "longitude": "18"}, "Give both latitude and longitude"),
    ({"latitude": "95", "longitude": "18"}, "Give both latitude and longitude"),
    ({"occurred_on": "2999-01-01"}, "not in the future"),
    ({"occurred_on": "yesterday"}, "not in the future"),
    ({"threat": "armed_conflict_near_civilians"}, "Choose one of the kinds"),
    ({"phone": "call me <b>"}, "A phone number has only digits"),
    ({"email": "not-an-address"}, "such as name@example.org"),
    ({"text": "bell \x07 ring"}, "Describe what happened"),
]


def test_tm_27_invalid_input_gets_a_clear_message_and_nothing_is_stored(web) -> None:
    for fields, error in INVALID_FORMS:
        response = send(web, **fields)
        assert response.status_code == 422, fields
        assert error in response.text, fields
        assert 'role="alert"' in response.text and 'aria-invalid="true"' in response.text
    assert report_count(web) == 0


def test_tm_22_hostile_text_is_escaped_when_the_form_is_shown_again(web) -> None:
    response = send(web, text=HOSTILE, place_name=HOSTILE, latitude="x", longitude="1")
    assert response.status_code == 422
    assert "<script>alert" not in response.text and "<img src=x" not in response.text
    assert "&lt;script&gt;alert(" in response.text
    assert report_count(web) == 0


def test_tm_22_hostile_text_stored_verbatim_and_receipt_page_clean(env) -> None:
    response = send(env, text=HOSTILE, place_name=HOSTILE)
    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert HOSTILE in every_stored_value(env.engine)  # kept as written, escaped when shown


def test_tm_21_csrf_missing_or_forged_token_is_refused(web) -> None:
    base = {"text": "Something happened at the market."}
    assert web.client.post("/report", data=base).status_code == 403
    assert web.client.post("/report", data={**base, "form_token": "1.abc"}).status_code == 403
    # A valid token issued for another browser (another cookie) does not work here.
    other = client_from(web, "10.9.9.9")
    stolen = form_token(other)
    form_token(web.client)  # this browser has its own cookie
    refused = web.client.post("/report", data={**base, "form_token": stolen})
    assert refused.status_code == 403
    # The reporter's text is not lost: it is shown again, with a fresh token.
    assert "Something happened at the market." in refused.text
    assert "This form has expired" in refused.text
    assert report_count(web) == 0


def test_tm_21_csrf_token_expires(web) -> None:
    token = form_token(web.client)
    web.clock.advance(hours=13)
    assert web.client.post("/report", data={"form_token": token, "text": "x"}).status_code == 403
    web.clock.advance(hours=-13)
    assert web.client.post("/report", data={"form_token": token, "text": "x"}).status_code == 200


def test_tm_21_cross_site_post_without_the_cookie_is_refused(web) -> None:
    token = form_token(web.client)
    stranger = client_from(web, "10.1.1.1")  # no cookie, like a post from another site
    response = stranger.post("/report", data={"form_token": token, "text": "spam"})
    assert response.status_code == 403
    assert report_count(web) == 0


def test_tm_27_oversized_body_is_refused(web) -> None:
    token = form_token(web.client)
    response = web.client.post("/report", data={"form_token": token, "text": "x" * 70_000})
    assert response.status_code == 413
    assert "too long" in response.text
    huge = web.client.post(
        "/report", content=b"a=" + b"x" * (2 * 1024 * 1024), headers={"content-type": _FORM}
    )
    assert huge.status_code == 413
    assert report_count(web) == 0


_FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    ("how", "value"), [("cookie", "ar"), ("header", "ar-SD,ar;q=0.9,en;q=0.5")]
)
def test_arabic_is_right_to_left(web, how, value) -> None:
    if how == "cookie":
        web.client.cookies.set("tocsin_lang", value)
    else:
        web.client.headers["accept-language"] = value
    page = web.client.get("/report")
    assert page.status_code == 200
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "الإبلاغ عن حادث" in page.text and "ماذا حدث؟" in page.text
    assert page.headers["content-language"] == "ar"
    # The receipt code stays left to right inside the Arabic page.
    response = web.client.post(
        "/report", data={"form_token": form_token(web.client), "text": "هاجم مسلحون القرية"}
    )
    assert 'class="receipt-code" dir="ltr"' in response.text
    assert "شكرًا لك. تم استلام بلاغك." in response.text


def test_french_page_and_language_switch(web) -> None:
    switched = web.client.post(
        "/language", data={"lang": "fr", "next": "/report"}, follow_redirects=False
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/report"
    page = web.client.get("/report")
    assert '<html lang="fr" dir="ltr">' in page.text and "Signaler un incident" in page.text
    web.client.post("/language", data={"lang": "ar", "next": "/report"})
    assert 'dir="rtl"' in web.client.get("/report").text


def test_every_public_message_has_french_and_arabic() -> None:
    from tocsin.web import public_report

    messages = [
        *public_report.THREAT_LABELS.values(),
        *public_report.STATUS_LABELS.values(),
        *public_report.FIELD_MESSAGES.values(),
        public_report.MSG_EXPIRED,
        public_report.MSG_NOT_SAVED,
        public_report.MSG_NOT_FOUND,
        public_report.MSG_TOO_LARGE,
    ]
    for lang in ("fr", "ar"):
        catalogue = translations(lang)
        untranslated = [m for m in messages if catalogue.gettext(m) == m]
        assert untranslated == [], lang


def test_tm_23_status_page_shows_the_state_and_nothing_else(env) -> None:
    response = send(
        env,
        text="SECRET-DETAIL the commander's name",
        place_name="SECRET-PLACE",
        latitude="4.123456",
        longitude="18.654321",
        phone=PHONE,
    )
    code = RECEIPT_RE.search(response.text).group(1)
    token = form_token(env.client, "/report/status")
    status = env.client.post("/report/status", data={"form_token": token, "receipt_code": code})
    assert status.status_code == 200
    assert STATUS_RE.search(status.text).group(1).startswith("Received")
    pseudonym = intake_service(env).pseudonymizer.pseudonym(PHONE)
    for secret in ("SECRET-DETAIL", "SECRET-PLACE", "4.123456", "18.654321", "75 12 34", pseudonym):
        assert secret not in status.text
    # Typed sloppily: lower case, spaces, O for 0.
    sloppy = code.lower().replace("-", " ").replace("0", "o")
    again = env.client.post("/report/status", data={"form_token": token, "receipt_code": sloppy})
    assert again.status_code == 200


def test_status_follows_the_case_coarsely(web) -> None:
    code = RECEIPT_RE.search(send(web).text).group(1)
    with web.engine.connect() as conn:
        report_id = repo.find_by_receipt(conn, code, intake_service(web).pseudonymizer)
        case = repo.load_case(conn, report_id)
    officer = Officer("analyst-1", frozenset({Role.ANALYST}))
    triaged, _ = Workflow().triage(case, officer, now=web.clock())
    with write_transaction(web.engine) as conn:
        repo.save_case(conn, triaged, expected_version=case.version)
    token = form_token(web.client, "/report/status")
    status = web.client.post("/report/status", data={"form_token": token, "receipt_code": code})
    assert STATUS_RE.search(status.text).group(1) == "Being reviewed."
    assert "triaged" not in status.text and "analyst-1" not in status.text


def test_add_information_with_the_receipt_code(env) -> None:
    code = RECEIPT_RE.search(send(env).text).group(1)
    token = form_token(env.client, "/report/status")
    added = env.client.post(
        "/report/status/add",
        data={"form_token": token, "receipt_code": code, "text": f"They came back. {HOSTILE}"},
    )
    assert added.status_code == 200
    assert "Your information was added" in added.text
    assert "They came back" not in added.text  # not echoed back
    with env.engine.connect() as conn:
        report_id = repo.find_by_receipt(conn, code, intake_service(env).pseudonymizer)
        (child,) = repo.follow_ups(conn, report_id)
        assert repo.load_report(conn, child).report.text.startswith("They came back.")
    assert report_count(env) == 2


def test_unknown_or_malformed_codes(web) -> None:
    token = form_token(web.client, "/report/status")
    unknown = web.client.post(
        "/report/status", data={"form_token": token, "receipt_code": "7KQ2-M9XD-4HTR-0B6W"}
    )
    assert unknown.status_code == 404 and "No report has this receipt code" in unknown.text
    bad = web.client.post(
        "/report/status", data={"form_token": token, "receipt_code": "<script>x</script>"}
    )
    assert bad.status_code == 422 and "16 letters and digits" in bad.text
    assert "<script>x" not in bad.text
    add = web.client.post(
        "/report/status/add",
        data={"form_token": token, "receipt_code": "7KQ2-M9XD-4HTR-0B6W", "text": "more"},
    )
    assert add.status_code == 404
    assert web.client.post("/report/status", data={"receipt_code": "x"}).status_code == 403
    assert report_count(web) == 0


def test_tm_24_flood_from_one_source_does_not_block_others(web) -> None:
    flooder = client_from(web, "10.66.0.1")
    token = form_token(flooder)
    codes = [
        flooder.post("/report", data={"form_token": token, "text": f"flood {i}"}).status_code
        for i in range(40)
    ]
    assert 429 in codes
    assert codes.count(200) < 40
    limited = flooder.post("/report", data={"form_token": token, "text": "again"})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # Someone else, meanwhile, reports normally.
    other = client_from(web, "10.77.0.2")
    assert send(web, client=other).status_code == 200
    assert report_count(web) == codes.count(200) + 1


def test_tm_25_no_address_or_user_agent_stored_or_logged(env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_from(env, "203.0.113.77")
    send(env, client=client, phone=PHONE)
    client.post("/api/v1/public/reports", json={"text": "from an app"})
    values = every_stored_value(env.engine)
    for needle in ("203.0.113.77", "203.0.113", USER_AGENT, "tocsin-test-agent", "testclient"):
        assert not any(needle in v for v in values), needle
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for needle in ("203.0.113.77", USER_AGENT, PHONE):
        assert needle not in logged


def test_tm_26_nothing_acknowledged_when_the_write_fails(env, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)

    def broken(case):
        # Database errors quote the statement's parameters: the report's text.
        raise OSError("disk full while writing 'It must not be half-saved.'")

    monkeypatch.setattr(repo, "_case_row", broken)
    response = send(env, text="It must not be half-saved.")
    assert response.status_code == 503
    assert "could not be saved" in response.text
    assert "It must not be half-saved." in response.text  # kept for the retry
    assert RECEIPT_RE.search(response.text) is None
    assert report_count(env) == 0
    logged = "\n".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "could not be stored: OSError" in logged
    assert "half-saved" not in logged


def test_tm_24_queue_full_refuses_openly(web) -> None:
    intake_service(web).max_pending = 0
    response = send(web)
    assert response.status_code == 503
    assert report_count(web) == 0


def test_receipt_is_shown_once_and_never_cached(web) -> None:
    response = send(web)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert 'action="/language"' not in response.text  # switching language would lose the code


def test_public_pages_need_no_account_and_expose_no_analyst_data(web) -> None:
    for path in ("/report", "/report/status"):
        page = web.client.get(path)
        assert page.status_code == 200
        assert "/dashboard" not in page.text


def test_due_dates_are_set(web) -> None:
    code = RECEIPT_RE.search(send(web).text).group(1)
    with web.engine.connect() as conn:
        report_id = repo.find_by_receipt(conn, code, intake_service(web).pseudonymizer)
        case = repo.load_case(conn, report_id)
    assert case.due - case.received_at == timedelta(hours=72)
