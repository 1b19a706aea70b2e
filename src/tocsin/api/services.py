"""What the running app holds: the engine, settings, keys, limiters and background workers.

One ``Services`` per app, stored on ``app.state.services``; nothing here is module-global.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tocsin.api.heap import HeapFreezer
from tocsin.api.middleware import TokenBuckets
from tocsin.api.settings import Settings
from tocsin.security import audit
from tocsin.security.keys import KeyRing
from tocsin.security.ledger_writer import LedgerWriter
from tocsin.security.txn import write_transaction

if TYPE_CHECKING:
    from tocsin.api.exports_worker import ExportWorker

log = logging.getLogger(__name__)


@dataclass
class Services:
    engine: Engine
    settings: Settings
    keys: KeyRing
    buckets: TokenBuckets = field(default_factory=TokenBuckets)
    exports: ExportWorker | None = None
    heap: HeapFreezer | None = None  # set in a serving process (tocsin.api.heap)
    _since_checkpoint: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _touched: dict[str, float] = field(default_factory=dict)
    _slots: dict[int, asyncio.Semaphore] = field(default_factory=dict)
    ledger: LedgerWriter = field(init=False)

    def __post_init__(self) -> None:
        # Group commit of read requests' audit entries (ADR 0008), one writer per process.
        self.ledger = LedgerWriter(self.engine, self.settings.clock, self.note_audited)

    @property
    def request_slots(self) -> asyncio.Semaphore:
        """How many requests may hold a database connection at once: the connections the pool
        keeps open, less two for background work (the ledger writer, maintenance, exports).
        Further requests wait here, in the event loop, rather than in a worker thread for a
        pooled connection (which times out, or deadlocks), or on a fresh overflow connection
        opened and closed for one request. One semaphore per event loop (the server has one;
        test clients may have several)."""
        loop = id(asyncio.get_running_loop())
        slots = self._slots.get(loop)
        if slots is None:
            size = getattr(self.engine.pool, "size", lambda: 5)()
            slots = self._slots.setdefault(loop, asyncio.Semaphore(max(2, size - 2)))
        return slots

    def touch_due(self, key: str, every: float = 60.0) -> bool:
        """True at most once per ``every`` seconds per key (process-local), so that fifty
        concurrent requests with one token do not all write its last-used time."""
        now = self.settings.clock().timestamp()
        with self._lock:
            last = self._touched.get(key)
            if last is not None and now - last < every:
                return False
            self._touched[key] = now
            if len(self._touched) > 100_000:
                self._touched.clear()
            return True

    def note_audited(self, count: int) -> None:
        """Called after each commit that appended audit entries: signs a checkpoint every
        ``checkpoint_every`` entries (and the maintenance loop does so every few minutes)."""
        with self._lock:
            self._since_checkpoint += count
            due = self._since_checkpoint >= self.settings.checkpoint_every
            if due:
                self._since_checkpoint = 0
        if due:
            self.checkpoint()

    def checkpoint(self) -> audit.Checkpoint | None:
        try:
            with write_transaction(self.engine) as conn:
                cp = audit.take_checkpoint(conn, self.keys, self.settings.clock())
        except Exception:  # a missed checkpoint is retried later; it must not fail requests
            log.exception("audit checkpoint failed")
            return None
        if cp is not None:
            audit.publish_checkpoint(self.settings.home, cp)
        return cp
