"""OpenRosa 1.0 server endpoints for ODK Collect, KoboCollect and Enketo.

- ``GET /openrosa/formList``: the xformsList of the shipped forms (``?formID=`` filters);
- ``GET /openrosa/forms/{form_id}/form.xml``: one XForm;
- ``HEAD /openrosa/submission``: 204, tells the client how large a submission may be;
- ``POST /openrosa/submission``: multipart, ``xml_submission_file`` plus photo attachments;
  201 with an OpenRosa response document.

**Authentication.** Every endpoint needs HTTP Basic credentials: the Tocsin user name and, as
the password, one of that user's personal API tokens (``tcn_...``, scope ``write``; create it
with ``POST /api/v1/auth/tokens`` or the CLI). Account passwords are never accepted here: a
phone stores what is typed into its server settings, and a token can be revoked alone, expires
on its own and cannot log into the web interface. Digest is not offered (it needs the password
in clear on the server). Serve this only over HTTPS: Basic sends the token with every request.
A ``Bearer`` token is accepted too, for scripts.

**Nothing half-written.** The whole multipart body is parsed and every part checked (safe
XML through defusedxml, size, attachment type and magic bytes, reference from the instance)
before ``IntakeService.accept`` stores the report and its attachments in one transaction.
A re-submission of the same ``meta/instanceID`` (ODK retries after a lost response) is
answered 201 again without storing anything twice.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from tocsin.api.deps import get_services
from tocsin.api.services import Services
from tocsin.intake import openrosa as orx
from tocsin.intake.repository import Attachment, InvalidReport
from tocsin.intake.service import get_intake
from tocsin.security import audit, tokens
from tocsin.security.policies import Permission
from tocsin.security.principal import Principal
from tocsin.security.txn import write_transaction
from tocsin.security.users import get_user

router = APIRouter(prefix="/openrosa", tags=["openrosa"])

XML_PART = "xml_submission_file"
XML_TYPES = frozenset({"text/xml", "application/xml", ""})
REALM = 'Basic realm="Tocsin", charset="UTF-8"'
_XML_MEDIA = "text/xml; charset=utf-8"


def _challenge(detail: str) -> HTTPException:
    headers = {"WWW-Authenticate": REALM, **orx.OPENROSA_HEADERS}
    return HTTPException(401, detail, headers)


def _credentials(request: Request) -> tuple[str | None, str]:
    """(user name or None for Bearer, token) from the Authorization header."""
    header = request.headers.get("authorization")
    if not header:
        raise _challenge("authentication required: user name and API token (HTTP Basic)")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return None, value
    if scheme.lower() != "basic" or not value or len(value) > 512:
        raise _challenge("use HTTP Basic with your user name and an API token as password")
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _challenge("malformed Basic credentials") from exc
    username, sep, token = decoded.partition(":")
    if not sep or not username or not token:
        raise _challenge("malformed Basic credentials")
    return username, token


def _resolve(services: Services, username: str | None, token: str) -> Principal:
    now = services.settings.clock()
    with services.engine.connect() as conn:
        info = tokens.resolve(conn, token, now)
        user = get_user(conn, info.user_id) if info else None
    valid = info is not None and user is not None and not user.disabled
    if valid and username is not None:
        # The token decides; the name must still be its owner's, so a token pasted under
        # someone else's name is not silently accepted as theirs.
        valid = hmac.compare_digest(username.casefold().encode(), user.username.casefold().encode())
    if not valid:
        raise _challenge("unknown user name, or the API token is invalid, expired or revoked")
    assert info is not None and user is not None
    if services.touch_due(f"token:{info.id}"):
        with write_transaction(services.engine) as conn:
            tokens.touch(conn, info.id, now)
    return Principal(user.id, user.username, user.role, "token", info.scopes, token_id=info.id)


async def openrosa_principal(
    request: Request, services: Services = Depends(get_services)
) -> Principal:
    """A field reporter (or anyone allowed to file reports) with a ``write`` token."""
    username, token = _credentials(request)
    principal = await run_in_threadpool(_resolve, services, username, token)
    if not principal.can(Permission.EVENTS_CREATE):
        raise HTTPException(
            403,
            "this account or token may not file reports (needs a role that creates "
            "records and a token with the write scope)",
            orx.OPENROSA_HEADERS,
        )
    return principal


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type=_XML_MEDIA, headers=orx.OPENROSA_HEADERS)


def _refuse(reason: str, status: int) -> Response:
    """Errors as OpenRosa response documents: ODK Collect shows their message to the user."""
    return _xml(orx.submission_response_xml(reason, nature="submit_error"), status)


@router.get("/formList", summary="OpenRosa form list (xformsList)")
async def form_list(
    request: Request,
    formID: str | None = None,  # noqa: N803 - the OpenRosa parameter name
    _principal: Principal = Depends(openrosa_principal),
) -> Response:
    forms = orx.shipped_forms()
    chosen = [f for fid, f in sorted(forms.items()) if formID is None or fid == formID]
    base = str(request.base_url).rstrip("/") + router.prefix
    return _xml(orx.form_list_xml(chosen, base))


@router.get("/forms/{form_id}/form.xml", summary="Download one XForm")
async def form_download(
    form_id: str, _principal: Principal = Depends(openrosa_principal)
) -> Response:
    form = orx.shipped_forms().get(form_id)
    if form is None:
        raise HTTPException(404, "no such form", orx.OPENROSA_HEADERS)
    return _xml(form.xml)


@router.head("/submission", status_code=204, summary="OpenRosa pre-submission check")
async def submission_head(
    request: Request, _principal: Principal = Depends(openrosa_principal)
) -> Response:
    return Response(status_code=204, headers={**orx.OPENROSA_HEADERS, "Location": str(request.url)})


async def _read_parts(request: Request) -> tuple[bytes, list[tuple[str, str, bytes]]]:
    """The instance XML and the attachments, every size checked while reading."""
    try:
        form = await request.form(max_files=orx.MAX_ATTACHMENTS + 1, max_fields=20)
    except MultiPartException as exc:
        raise orx.SubmissionError(f"malformed multipart body: {exc.message}") from exc
    except StarletteHTTPException as exc:  # Starlette's wrapping of the same parser errors
        if exc.status_code != 400:
            raise
        raise orx.SubmissionError(f"malformed multipart body: {exc.detail}") from exc
    xml_data: bytes | None = None
    files: list[tuple[str, str, bytes]] = []
    try:
        for name, value in form.multi_items():
            if name == "*isIncomplete*" and value == "yes":
                raise orx.SubmissionError(
                    "split submissions are not accepted; send fewer or smaller photos", 413
                )
            if not isinstance(value, UploadFile):
                continue  # ODK adds small text fields (deviceID); nothing to keep
            if name == XML_PART:
                if xml_data is not None:
                    raise orx.SubmissionError(f"{XML_PART} appears more than once")
                media = (value.content_type or "").split(";")[0].strip().lower()
                if media not in XML_TYPES:
                    raise orx.SubmissionError(f"{XML_PART} must be text/xml", 415)
                xml_data = await _read_file(value, orx.MAX_SUBMISSION_XML_BYTES)
                continue
            if len(files) >= orx.MAX_ATTACHMENTS:
                raise orx.SubmissionError(f"at most {orx.MAX_ATTACHMENTS} attachments", 413)
            data = await _read_file(value, orx.MAX_ATTACHMENT_BYTES)
            files.append((value.filename or "", value.content_type or "", data))
    finally:
        await form.close()
    if xml_data is None:
        raise orx.SubmissionError(f"the {XML_PART} part is missing")
    return xml_data, files


async def _read_file(upload: UploadFile, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise orx.SubmissionError(f"a part is larger than {limit} bytes", 413)
    return data


@router.post(
    "/submission",
    status_code=201,
    summary="OpenRosa submission (multipart: xml_submission_file + attachments)",
    responses={
        400: {"description": "malformed or hostile XML, missing part, invalid values"},
        401: {"description": "no or invalid credentials"},
        404: {"description": "unknown form"},
        413: {"description": "too large"},
        415: {"description": "wrong content type"},
    },
)
async def submission(
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(openrosa_principal),
) -> Response:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return _refuse("send the submission as multipart/form-data", 415)
    received_at: datetime = services.settings.clock()
    try:
        xml_data, parts = await _read_parts(request)
        sub = orx.parse_submission(xml_data)
        report = orx.report_from_submission(sub, received_at=received_at)
        attachments = [
            Attachment(orx.check_attachment(sub, name, ctype, data), ctype, data)
            for name, ctype, data in parts
        ]
    except orx.SubmissionError as exc:
        return _refuse(exc.reason, exc.status)
    intake = get_intake(request)
    try:
        stored = await intake.accept_async(report, attachments)
    except InvalidReport as exc:
        return _refuse(str(exc), 400)
    if stored.duplicate:
        return _xml(
            orx.submission_response_xml("This report was already received. Thank you."), 201
        )
    # Which account filed it: the report row stays free of account data (like every channel),
    # the ledger links the two. A separate, later transaction: if the process dies in between,
    # the report is kept and only this link is missing.
    await run_in_threadpool(_record_filer, services, principal, stored.report_id, sub.form_id)
    return _xml(orx.submission_response_xml("Report received. Thank you."), 201)


def _record_filer(services: Services, principal: Principal, report_id: str, form_id: str) -> None:
    with write_transaction(services.engine) as conn:
        audit.record(
            conn,
            principal.actor(),
            "report.filed_via_openrosa",
            f"report:{report_id}",
            {"form_id": form_id},
            services.settings.clock(),
        )
