"""The public reporting pages and the public JSON API: no account needed.

Pages (server-rendered, work without JavaScript; English, French, Arabic right-to-left):

- ``GET/POST /report``: the short form. A POST that stores the report answers with the receipt
  page directly (never a redirect: the code must not end up in a URL, history or log).
- ``GET/POST /report/status``: enter a receipt code, see the coarse status, add information.
- ``POST /report/status/add``: the added information (a follow-up report linked to the first).

JSON (for offline apps; ``application/json`` only, so browsers on other sites cannot post it
without a CORS preflight, which is not granted):

- ``POST /api/v1/public/reports`` -> 201 ``{"receipt_code", "duplicate": false, "status"}``
- ``POST /api/v1/public/reports/status`` -> ``{"status"}``
- ``POST /api/v1/public/reports/follow-up`` -> 201 ``{"added": true}``

Every answer is sent only after the report is committed (``IntakeService``). Nothing about the
request (address, user agent) is stored; the rate limits key their buckets by a keyed hash of
the address, in memory only (``api.middleware.RateLimit``). See ``docs/intake.md``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from tocsin.api.settings import RateRule
from tocsin.intake import repository
from tocsin.intake.public_input import (
    MAX_EMAIL,
    MAX_NAME,
    MAX_PHONE,
    MAX_PLACE,
    MAX_TEXT,
    PUBLIC_THREATS,
    PublicFollowUp,
    PublicReport,
    PublicStatus,
    PublicStatusQuery,
    follow_up_report,
    public_status,
)
from tocsin.intake.receipts import normalize_receipt
from tocsin.intake.repository import InvalidReport
from tocsin.intake.service import IntakeBusy, IntakeService, describe_failure, get_intake
from tocsin.web.i18n import COOKIE_NAME, N_, PUBLIC_LANGUAGES, choose_language, environment
from tocsin.web.public_forms import COOKIE_NAME as FORM_COOKIE
from tocsin.web.public_forms import COOKIE_PATH, FIELD_NAME, FormTokens
from tocsin.web.render import static_url

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 64 * 1024  # the longest valid form is ~ 30 KB of UTF-8
MAX_JSON_BYTES = 64 * 1024
ENV_REPORTS_PER_MINUTE = "TOCSIN_PUBLIC_REPORTS_PER_MINUTE"

THREAT_LABELS: Mapping[str, str] = {
    "attack_on_civilians": N_("People attacked, killed or injured"),
    "threats_and_intimidation": N_("Threats or intimidation"),
    "conflict_related_sexual_violence": N_("Sexual violence"),
    "grave_violation_against_children": N_("Children harmed, recruited or abducted"),
    "forced_displacement": N_("People forced to flee"),
    "attack_on_civilian_objects": N_("Homes, schools, clinics or markets attacked"),
    "attack_on_humanitarians": N_("Aid workers attacked"),
    "misconduct_by_mission_personnel": N_("Misconduct by UN or peacekeeping personnel"),
}
STATUS_LABELS: Mapping[str, str] = {
    "received": N_("Received: your report is waiting to be reviewed."),
    "in_review": N_("Being reviewed."),
    "closed": N_("Review completed. Thank you."),
}
FIELD_MESSAGES: Mapping[str, str] = {
    "text": N_("Describe what happened, in up to 5000 characters."),
    "occurred_on": N_("Give a valid date that is not in the future, or leave it empty."),
    "place_name": N_("The place name can be up to 200 characters long."),
    "latitude": N_("Give both latitude and longitude as numbers, or neither."),
    "longitude": N_("Give both latitude and longitude as numbers, or neither."),
    "threat": N_("Choose one of the kinds listed, or leave it empty."),
    "phone": N_("A phone number has only digits, spaces and + ( ) - characters."),
    "name": N_("The name can be up to 120 characters long."),
    "email": N_("Give an e-mail address such as name@example.org, or leave it empty."),
    "receipt_code": N_("A receipt code has 16 letters and digits, like 7KQ2-M9XD-4HTR-0B6W."),
}
MSG_EXPIRED = N_(
    "This form has expired, or your browser did not send back its cookie. Your text is kept "
    "below: please send it again."
)
MSG_NOT_SAVED = N_(
    "Your report could not be saved just now. Nothing was recorded. Please try again in a "
    "minute; your text is kept below."
)
MSG_NOT_FOUND = N_("No report has this receipt code. Check the code and try again.")
MSG_TOO_LARGE = N_("What you sent is too long. Shorten the text and try again.")

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1/public", tags=["public reporting"])


def rate_rules(reports_per_minute: float = 30) -> tuple[RateRule, ...]:
    """Per-source limits (a keyed hash of the client address). Generous enough for many
    reporters behind one carrier NAT; a flood from one source is cut, others pass."""
    burst = max(5, int(reports_per_minute // 2))
    post = frozenset({"POST"})
    return (
        RateRule("public-report", "/report", reports_per_minute, burst, post, exact=True),
        RateRule("public-status", "/report/status", 30, 15, post),
        RateRule(
            "public-api-report",
            "/api/v1/public/reports",
            reports_per_minute * 2,
            burst * 2,
            post,
            exact=True,
        ),
        RateRule("public-api-status", "/api/v1/public/reports/", 30, 15, post),
    )


def install(app: FastAPI) -> None:
    """Adds the pages, the JSON API and their per-source rate limits to ``app``."""
    app.include_router(router)
    app.include_router(api_router)
    services = getattr(app.state, "services", None)
    if services is None:
        return
    limits = getattr(services.settings, "path_body_limits", None)
    if limits is not None:
        # Refused by the middleware from Content-Length, before any byte is read. (``/report``
        # itself is checked in the handler: a prefix rule would also catch ``/reports``.)
        limits.setdefault(api_router.prefix + "/", MAX_JSON_BYTES)
        limits.setdefault("/report/status", MAX_FORM_BYTES)
    per_minute = float(os.environ.get(ENV_REPORTS_PER_MINUTE, "30"))
    names = {r.name for r in services.settings.rate_rules}
    for rule in rate_rules(per_minute):
        if rule.name not in names:
            services.settings.rate_rules.append(rule)  # the list the middleware reads


# -- helpers ----------------------------------------------------------------------------------


def _intake(request: Request) -> IntakeService:
    return get_intake(request)


def _now(request: Request):  # noqa: ANN202 - a datetime
    return request.app.state.services.settings.clock()


def _tokens(request: Request) -> FormTokens:
    state = request.app.state
    tokens = getattr(state, "public_form_tokens", None)
    if tokens is None:
        services = state.services
        tokens = FormTokens(services.keys.raw("lookup"), services.settings.clock)
        state.public_form_tokens = tokens
    return tokens


def _lang(request: Request) -> str:
    return choose_language(
        request.cookies.get(COOKIE_NAME),
        request.headers.get("accept-language"),
        allowed=PUBLIC_LANGUAGES,
    )


def _render(
    request: Request, template: str, context: Mapping[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """Renders a public page with a fresh form token (and its cookie, if it had none)."""
    lang = _lang(request)
    tokens = _tokens(request)
    cookie = request.cookies.get(FORM_COOKIE)
    new_cookie = None if tokens.valid_cookie(cookie) else tokens.new_cookie()
    full = {
        "static": static_url,
        "current_path": request.url.path,
        "public_languages": PUBLIC_LANGUAGES,
        "form_token": tokens.issue(new_cookie or cookie),  # type: ignore[arg-type]
        "form_field": FIELD_NAME,
        "threats": [(t.value, THREAT_LABELS[t.value]) for t in PUBLIC_THREATS],
        "limits": {
            "text": MAX_TEXT,
            "place": MAX_PLACE,
            "name": MAX_NAME,
            "phone": MAX_PHONE,
            "email": MAX_EMAIL,
        },
        "errors": {},
        "message": None,
        **context,
    }
    html = environment(lang).get_template(template).render(full)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["content-language"] = lang
    response.headers["vary"] = "Cookie, Accept-Language"
    if new_cookie is not None:
        response.set_cookie(
            FORM_COOKIE,
            new_cookie,
            path=COOKIE_PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
    return response


async def _read_form(request: Request) -> dict[str, str] | None:
    """The form's text fields, or ``None`` when the body is too large to be a real form."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return None
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    form = await request.form(max_files=0, max_fields=40)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _csrf_ok(request: Request, fields: Mapping[str, str]) -> bool:
    return _tokens(request).check(request.cookies.get(FORM_COOKIE), fields.get(FIELD_NAME))


def _field_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        known = [p for p in loc if p in FIELD_MESSAGES]
        # No field named: a model-level error, which is the coordinates pair.
        name = known[-1] if known else ("latitude" if not loc else "text")
        errors.setdefault(name, FIELD_MESSAGES[name])
    return errors


def _report_payload(fields: Mapping[str, str], lang: str) -> dict[str, Any]:
    contact = {k: fields.get(k, "") for k in ("phone", "name", "email")}
    return {
        "text": fields.get("text", ""),
        "occurred_on": fields.get("occurred_on", ""),
        "place_name": fields.get("place_name", ""),
        "latitude": fields.get("latitude", "").replace(",", "."),
        "longitude": fields.get("longitude", "").replace(",", "."),
        "threat": fields.get("threat", ""),
        "children_involved": fields.get("children_involved") == "yes",
        "language": lang,
        "contact": contact if any(v.strip() for v in contact.values()) else None,
    }


def _form_values(fields: Mapping[str, str]) -> dict[str, str]:
    keys = (
        "text",
        "occurred_on",
        "place_name",
        "latitude",
        "longitude",
        "threat",
        "phone",
        "name",
        "email",
        "children_involved",
    )
    return {k: fields.get(k, "")[:MAX_TEXT] for k in keys}


def _lookup_status(request: Request, code: str) -> tuple[str, PublicStatus] | None:
    """(report id, coarse status) for a receipt code; runs in a worker thread."""
    intake = _intake(request)
    with intake.engine.connect() as conn:
        report_id = repository.find_by_receipt(conn, code, intake.pseudonymizer)
        if report_id is None:
            return None
        case = repository.load_case(conn, report_id)
    if case is None:  # pragma: no cover - submit always writes both rows together
        return None
    return report_id, public_status(case.state)


# -- pages ------------------------------------------------------------------------------------


@router.get("/report", name="public_report_form")
async def report_form(request: Request) -> HTMLResponse:
    return _render(request, "public/report_form.html", {"values": {}})


@router.post("/report", name="public_report_submit")
async def report_submit(request: Request) -> HTMLResponse:
    fields = await _read_form(request)
    if fields is None:
        return _render(
            request,
            "public/report_form.html",
            {"values": {}, "message": MSG_TOO_LARGE},
            status_code=413,
        )
    values = _form_values(fields)
    if not _csrf_ok(request, fields):
        return _render(
            request,
            "public/report_form.html",
            {"values": values, "message": MSG_EXPIRED},
            status_code=403,
        )
    lang = _lang(request)
    try:
        model = PublicReport.model_validate(_report_payload(fields, lang))
    except ValidationError as exc:
        return _render(
            request,
            "public/report_form.html",
            {"values": values, "errors": _field_errors(exc)},
            status_code=422,
        )
    report = model.to_report(channel="web", received_at=_now(request))
    try:
        stored = await _intake(request).accept_async(report)
    except InvalidReport:
        return _render(
            request,
            "public/report_form.html",
            {"values": values, "errors": {"text": FIELD_MESSAGES["text"]}},
            status_code=422,
        )
    except Exception as exc:  # noqa: BLE001 - busy or a failed commit: nothing acknowledged
        if not isinstance(exc, IntakeBusy):
            log.error("a public report could not be stored: %s", describe_failure(exc))
        return _render(
            request,
            "public/report_form.html",
            {"values": values, "message": MSG_NOT_SAVED},
            status_code=503,
        )
    # No language switch on this page: leaving it would lose the only view of the code.
    return _render(
        request,
        "public/receipt.html",
        {"receipt_code": stored.receipt_code, "hide_language_switch": True},
    )


@router.get("/report/status", name="public_report_status_form")
async def status_form(request: Request) -> HTMLResponse:
    return _render(request, "public/status.html", {"status": None, "code": ""})


@router.post("/report/status", name="public_report_status")
async def status_lookup(request: Request) -> HTMLResponse:
    fields = await _read_form(request)
    if fields is None:
        return _render(
            request,
            "public/status.html",
            {"status": None, "code": "", "message": MSG_TOO_LARGE},
            status_code=413,
        )
    raw = fields.get("receipt_code", "")[:40]
    if not _csrf_ok(request, fields):
        return _render(
            request,
            "public/status.html",
            {"status": None, "code": raw, "message": MSG_EXPIRED},
            status_code=403,
        )
    code = normalize_receipt(raw)
    if code is None:
        return _render(
            request,
            "public/status.html",
            {
                "status": None,
                "code": raw,
                "errors": {"receipt_code": FIELD_MESSAGES["receipt_code"]},
            },
            status_code=422,
        )
    found = await run_in_threadpool(_lookup_status, request, code)
    if found is None:
        return _render(
            request,
            "public/status.html",
            {"status": None, "code": raw, "message": MSG_NOT_FOUND},
            status_code=404,
        )
    return _render(
        request,
        "public/status.html",
        {"status": STATUS_LABELS[found[1]], "code": raw, "values": {}},
    )


@router.post("/report/status/add", name="public_report_add")
async def status_add(request: Request) -> HTMLResponse:
    fields = await _read_form(request)
    if fields is None:
        return _render(
            request,
            "public/status.html",
            {"status": None, "code": "", "message": MSG_TOO_LARGE},
            status_code=413,
        )
    raw = fields.get("receipt_code", "")[:40]
    text = fields.get("text", "")
    if not _csrf_ok(request, fields):
        return _render(
            request,
            "public/status.html",
            {"status": None, "code": raw, "message": MSG_EXPIRED, "values": {"text": text}},
            status_code=403,
        )
    code = normalize_receipt(raw)
    found = await run_in_threadpool(_lookup_status, request, code) if code else None
    if found is None:
        return _render(
            request,
            "public/status.html",
            {"status": None, "code": raw, "message": MSG_NOT_FOUND},
            status_code=404,
        )
    status_label = STATUS_LABELS[found[1]]
    try:
        follow = PublicFollowUp.model_validate(
            {"receipt_code": code, "text": text, "language": _lang(request)}
        )
    except ValidationError as exc:
        return _render(
            request,
            "public/status.html",
            {
                "status": status_label,
                "code": raw,
                "errors": _field_errors(exc),
                "values": {"text": text[:MAX_TEXT]},
            },
            status_code=422,
        )
    report = follow_up_report(follow, channel="web", received_at=_now(request))
    try:
        await _intake(request).accept_async(report, parent_report_id=found[0])
    except Exception as exc:  # noqa: BLE001 - nothing acknowledged; the reporter retries
        if not isinstance(exc, IntakeBusy | InvalidReport):
            log.error("a follow-up report could not be stored: %s", describe_failure(exc))
        return _render(
            request,
            "public/status.html",
            {
                "status": status_label,
                "code": raw,
                "message": MSG_NOT_SAVED,
                "values": {"text": text[:MAX_TEXT]},
            },
            status_code=503,
        )
    return _render(
        request,
        "public/status.html",
        {"status": status_label, "code": raw, "added": True, "values": {}},
    )


# -- JSON API ---------------------------------------------------------------------------------


def _too_large(request: Request) -> JSONResponse | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_JSON_BYTES:
        return JSONResponse(
            {"detail": f"request body larger than {MAX_JSON_BYTES} bytes"}, status_code=413
        )
    return None


def _not_saved(exc: Exception) -> JSONResponse:
    if isinstance(exc, IntakeBusy):
        return JSONResponse(
            {
                "detail": "too many reports are waiting to be stored; nothing was recorded, "
                "send it again shortly"
            },
            status_code=503,
            headers={"retry-after": "5"},
        )
    log.error("a public report could not be stored: %s", describe_failure(exc))
    return JSONResponse(
        {"detail": "the report could not be stored; nothing was recorded, send it again"},
        status_code=503,
    )


@api_router.post("/reports", status_code=201, summary="Submit a report (no account)")
async def api_submit(request: Request, body: PublicReport) -> JSONResponse:
    """Stores the report and answers once it is committed, with the receipt code (shown once:
    only a keyed hash of it is kept). Re-sending the same ``client_report_id`` stores nothing
    twice and answers ``duplicate: true`` without a code."""
    if (too_large := _too_large(request)) is not None:
        return too_large
    report = body.to_report(channel="web", received_at=_now(request))
    try:
        stored = await _intake(request).accept_async(report)
    except InvalidReport as exc:
        return JSONResponse({"detail": f"invalid report: {exc}"}, status_code=422)
    except Exception as exc:  # noqa: BLE001 - busy or a failed commit: nothing acknowledged
        return _not_saved(exc)
    if stored.duplicate:
        return JSONResponse(
            {"receipt_code": None, "duplicate": True, "status": "received"}, status_code=200
        )
    return JSONResponse(
        {"receipt_code": stored.receipt_code, "duplicate": False, "status": "received"},
        status_code=201,
    )


@api_router.post("/reports/status", summary="Status of a report, by its receipt code")
async def api_status(request: Request, body: PublicStatusQuery) -> JSONResponse:
    if (too_large := _too_large(request)) is not None:
        return too_large
    code = normalize_receipt(body.receipt_code)
    found = await run_in_threadpool(_lookup_status, request, code) if code else None
    if found is None:
        return JSONResponse({"detail": "no report has this receipt code"}, status_code=404)
    return JSONResponse({"status": found[1]})


@api_router.post("/reports/follow-up", status_code=201, summary="Add information to a report")
async def api_follow_up(request: Request, body: PublicFollowUp) -> JSONResponse:
    if (too_large := _too_large(request)) is not None:
        return too_large
    code = normalize_receipt(body.receipt_code)
    found = await run_in_threadpool(_lookup_status, request, code) if code else None
    if found is None:
        return JSONResponse({"detail": "no report has this receipt code"}, status_code=404)
    report = follow_up_report(body, channel="web", received_at=_now(request))
    try:
        await _intake(request).accept_async(report, parent_report_id=found[0])
    except InvalidReport as exc:
        return JSONResponse({"detail": f"invalid report: {exc}"}, status_code=422)
    except Exception as exc:  # noqa: BLE001
        return _not_saved(exc)
    return JSONResponse({"added": True, "status": found[1]}, status_code=201)
