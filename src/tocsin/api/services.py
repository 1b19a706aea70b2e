"""What the running app holds: the engine, settings, keys, limiters and background workers.

One ``Services`` per app, stored on ``app.state.services``; nothing here is module-global.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tocsin.api.middleware import TokenBuckets
from tocsin.api.settings import Settings
from tocsin.security import audit
from tocsin.security.keys import KeyRing
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
    _since_checkpoint: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
