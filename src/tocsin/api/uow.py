"""One transaction per request, with the request's audit entries inside it.

Handlers get the ``UnitOfWork`` of their request (``Depends(get_uow)``), use ``uow.conn`` for
every query and call ``uow.audit(...)`` for what must be recorded. ``UnitOfWorkRoute`` commits
after the handler has produced its complete response and *before* that response is sent: the
audit entries are appended in the same transaction as the change, and if the commit fails the
client gets a 500 and none of the data. A handler returning an error status is rolled back,
unless it committed on purpose first (failed logins must count).

SQLite has one writer at a time. Requests with unsafe methods start with ``BEGIN IMMEDIATE``
so they never fail half-way on a lock upgrade, and append their audit entries in their own
transaction, atomically with the change. Read requests run in a plain read snapshot; if they
read restricted records, their (empty) read transaction ends and their audit entries go to the
process's ledger writer, which commits the entries of all waiting reads in one transaction
(group commit, ADR 0008); the response leaves only after that commit.
"""

from __future__ import annotations

import functools
import inspect
import logging
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, StreamingResponse

from tocsin.security import audit
from tocsin.security.audit import Actor, PendingEntry
from tocsin.security.ledger_writer import LedgerWriter
from tocsin.security.sessions import CSRF_FORM_FIELD

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class UnitOfWork:
    def __init__(
        self,
        engine: Engine,
        *,
        writes: bool,
        clock: Callable[[], datetime],
        on_audited: Callable[[int], None] | None = None,
        ledger: LedgerWriter | None = None,
    ) -> None:
        self.engine = engine
        self.writes = writes
        self.clock = clock
        self._conn: Connection | None = None
        self._pending: list[PendingEntry] = []
        self._deferred: list[Callable[[Connection], None]] = []
        self._on_audited = on_audited
        self._ledger = ledger
        self._statement_snapshots = False
        self.done = False

    @property
    def sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def conn(self) -> Connection:
        if self.done:
            raise RuntimeError("this request's transaction is already finished")
        if self._conn is None:
            conn = self.engine.connect()
            if self._statement_snapshots:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            elif self.writes and self.sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            self._conn = conn
        return self._conn

    def statement_snapshots(self) -> None:
        """Declares a route that only reads through this unit of work (ADR 0013).

        On PostgreSQL at READ COMMITTED every statement takes its own snapshot anyway, so a
        transaction around such a request changes nothing it sees, and costs two round trips
        (BEGIN, COMMIT) while the machine is busiest: the route reads in autocommit. Its audit
        entries and bookkeeping writes still commit in a transaction of their own (the ledger
        writer's, or the one ``commit`` opens). SQLite keeps its read transaction: there it is
        what makes the request's reads one snapshot."""
        if self._conn is None and not self.writes and _statement_snapshots_apply(self.engine):
            self._statement_snapshots = True

    def read_only(self) -> None:
        """Declares a POST that only reads (a search): no write lock on SQLite."""
        if self._conn is None:
            self.writes = False

    def audit(
        self,
        actor: Actor,
        action: str,
        target: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        audit.canonical_details(details or {})  # refuse secrets now, not at commit
        self._pending.append(PendingEntry(actor, action, target, dict(details or {})))

    def defer(self, write: Callable[[Connection], None]) -> None:
        """A bookkeeping write (last seen, last used) done at commit, in this request's
        transaction: never a second connection while this one is held (that deadlocks the
        pool under load), and no write lock for a read request until its very end."""
        self._deferred.append(write)

    def commit(self) -> None:
        if self.done:
            return
        if self._ledger is not None and not self.writes and (self._pending or self._deferred):
            self._commit_through_ledger(self._ledger)
            return
        appended = 0
        try:
            if self._pending or self._deferred:
                if self._statement_snapshots:
                    # The writes need a transaction (the chain lock lasts until its end):
                    # leave the autocommit connection for a fresh transactional one.
                    self._statement_snapshots = False
                    if self._conn is not None:
                        self._conn.close()
                        self._conn = None
                conn = self.conn
                if self.sqlite and not self.writes:
                    conn.commit()  # end the read snapshot; nothing was written in it
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                for write in self._deferred:
                    write(conn)
                self._deferred.clear()
                if self._pending:
                    appended = len(audit.append(conn, self._pending, self.clock()))
                    self._pending.clear()
            if self._conn is not None:
                self._conn.commit()
        finally:
            self._close()
        if appended and self._on_audited is not None:
            self._on_audited(appended)

    def _commit_through_ledger(self, ledger: LedgerWriter) -> None:
        """A read request's audit entries (and bookkeeping writes) go to the process's group
        commit (ADR 0008): its read snapshot ends and its connection goes back to the pool
        first, then it waits until the batch holding its entries is committed. Raises if that
        commit failed, so the caller answers 503 and sends none of what was read."""
        pending, deferred = list(self._pending), list(self._deferred)
        self._pending.clear()
        self._deferred.clear()
        try:
            if self._conn is not None:
                self._conn.commit()  # nothing was written in the read snapshot
        finally:
            self._close()
        ledger.write(pending, deferred)  # the writer signs checkpoints (on_audited) itself

    def rollback(self) -> None:
        if self.done:
            return
        try:
            if self._conn is not None:
                self._conn.rollback()
        finally:
            self._close()

    def _close(self) -> None:
        self.done = True
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _statement_snapshots_apply(engine: Engine) -> bool:
    # Only where a transaction adds nothing to a read: PostgreSQL at READ COMMITTED, its
    # default (an engine or server set to REPEATABLE READ keeps one snapshot per request).
    dialect = engine.dialect
    return (
        dialect.name == "postgresql"
        and getattr(dialect, "isolation_level", None) is None
        and getattr(dialect, "default_isolation_level", None) == "READ COMMITTED"
    )


_FORM_TYPE = "application/x-www-form-urlencoded"


async def _stash_form_csrf_token(request: Request) -> None:
    """Server-rendered forms carry the CSRF token as a ``csrf_token`` field rather than a
    header; the (synchronous) principal check reads it from here. URL-encoded forms only
    (small, under the body limit); multipart uploads must send the header."""
    if request.method in SAFE_METHODS or "cookie" not in request.headers:
        return
    if request.headers.get("content-type", "").startswith(_FORM_TYPE):
        await request.body()  # cached first, so the handler can still read the body
        form = await request.form()
        value = form.get(CSRF_FORM_FIELD)
        if isinstance(value, str):
            request.state.csrf_form_token = value


def _has_handler(request: Request, exc: Exception) -> bool:
    handlers = request.app.exception_handlers
    return any(cls in handlers for cls in type(exc).__mro__ if cls is not Exception)


async def get_uow(request: Request) -> UnitOfWork:
    # async: no I/O here, and a sync dependency would cost a thread-pool hop per request
    uow = getattr(request.state, "uow", None)
    if uow is None:  # a route outside UnitOfWorkRoute asked for it: a programming error
        raise RuntimeError("get_uow used on a route that is not a UnitOfWorkRoute")
    return uow


# The request's unit of work, for the endpoint wrapper below (context variables follow the
# request into the worker thread that runs a sync endpoint).
_REQUEST_UOW: ContextVar[UnitOfWork | None] = ContextVar("tocsin_request_uow", default=None)


def _unsaved() -> JSONResponse:
    return JSONResponse({"detail": "the change could not be saved"}, status_code=503)


def commit_before_sending(uow: UnitOfWork, response: Response) -> Response:
    """Commits the request's unit of work (its audit entries included) once its complete
    response is built, in the calling thread: the same order as the route's own commit
    (response first, then commit, then send). A failed commit answers 503 instead, so no
    record leaves without its audit entry. Error responses and streams are left to the
    route, which rolls back or refuses them."""
    if uow.done or isinstance(response, StreamingResponse) or response.status_code >= 400:
        return response
    try:
        uow.commit()
    except Exception:
        log.exception("commit failed; the response was not sent")
        return _unsaved()
    return response


def _commit_after(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """A sync endpoint that returns a finished ``Response`` (a search page, a 204) commits in
    the worker thread that ran it (``commit_before_sending``): one thread hop fewer per
    request. Other results (models to serialise) are left to the route, as before."""

    @functools.wraps(endpoint)
    def run_then_commit(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        uow = _REQUEST_UOW.get()
        if uow is not None and isinstance(result, Response):
            return commit_before_sending(uow, result)
        return result

    return run_then_commit


class UnitOfWorkRoute(APIRoute):
    """Route class that wraps each request in a ``UnitOfWork``."""

    read_only = False  # True: an unsafe method that only reads (no SQLite write lock)

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _commit_after(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Any]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            services = request.app.state.services
            if services.heap is not None:
                services.heap.note_request()
            async with services.request_slots:
                return await run(request, services)

        async def run(request: Request, services: Any) -> Response:
            uow = UnitOfWork(
                services.engine,
                writes=not self.read_only and request.method not in SAFE_METHODS,
                clock=services.settings.clock,
                on_audited=services.note_audited,
                ledger=services.ledger,
            )
            request.state.uow = uow
            await _stash_form_csrf_token(request)
            current = _REQUEST_UOW.set(uow)
            try:
                response = await original(request)
            except Exception as exc:
                await run_in_threadpool(uow.rollback)
                if _has_handler(request, exc):
                    raise  # HTTPException, validation and query errors: rendered by FastAPI
                # Rendered here, inside the middleware stack, so it still gets the security
                # headers (a 500 from Starlette's outermost handler would not).
                incident = uuid.uuid4().hex[:12]
                log.error(
                    "unhandled %s on %s %s [incident %s]",
                    type(exc).__name__,
                    request.method,
                    request.url.path,
                    incident,
                    exc_info=exc,
                )
                return JSONResponse(
                    {"detail": "internal error", "incident": incident}, status_code=500
                )
            except BaseException:
                await run_in_threadpool(uow.rollback)
                raise
            finally:
                _REQUEST_UOW.reset(current)
            if isinstance(response, StreamingResponse) and not uow.done:
                # A streamed body would be produced after the commit, outside the transaction
                # and after the audit: handlers must materialise, or stream from a file.
                await run_in_threadpool(uow.rollback)
                raise RuntimeError("streaming responses must not depend on the request's uow")
            if uow.done:  # committed (or rolled back on purpose) by the endpoint itself
                return response
            if response.status_code >= 400:
                await run_in_threadpool(uow.rollback)
                return response
            try:
                await run_in_threadpool(uow.commit)
            except Exception:
                log.exception("commit failed; the response was not sent")
                return _unsaved()
            return response

        return handler


class ReadOnlyRoute(UnitOfWorkRoute):
    """For a POST that only reads (a search with a body) or that writes through its own
    transactions (file imports): the request's unit of work takes no write lock up front."""

    read_only = True
