"""Error responses: clear messages, never an echo of the input, never a traceback.

FastAPI's default 422 body repeats the offending input, which for a login is the password;
here each error says where and what, not the value.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tocsin.security.passwords import PasswordRejected
from tocsin.store.export import ExportError
from tocsin.store.query_geometry import QueryError

log = logging.getLogger("tocsin.api")


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        message = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}" if loc else "unknown field"
        out.append({"loc": loc, "msg": message, "type": err.get("type", "value_error")})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return JSONResponse(
            {"detail": f"invalid request: {summary}", "errors": errors}, status_code=422
        )

    @app.exception_handler(QueryError)
    async def _bad_query(_request: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(PasswordRejected)
    async def _weak(_request: Request, exc: PasswordRejected) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(ExportError)
    async def _export(_request: Request, exc: ExportError) -> JSONResponse:
        return JSONResponse({"detail": f"export failed: {exc}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        # The path only: query strings and bodies may hold personal data.
        log.error(
            "unhandled %s on %s %s [incident %s]",
            type(exc).__name__,
            request.method,
            request.url.path,
            incident,
            exc_info=exc,
        )
        return JSONResponse({"detail": "internal error", "incident": incident}, status_code=500)
