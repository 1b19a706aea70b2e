"""The webhook replay cache in the database: one cache for every worker, kept across restarts.

Implements ``tocsin.intake.gateways.NonceCache`` over the ``webhook_replay`` table. ``add`` is an
insert-if-absent on a unique key (``INSERT .. ON CONFLICT DO NOTHING``), so of two workers that
receive the same signed request at the same moment exactly one gets ``True``; the other sees the
row (PostgreSQL makes it wait for the first transaction; SQLite serialises writers) and refuses
the request as a replay.

A claim is not final until :meth:`DatabaseNonceCache.complete` marks it so, after the request was
answered. Three things can happen to a claim:

- the request is answered (stored, or answered without storing, e.g. HELP): ``complete``; a
  replay within the expiry window is refused, even after a restart;
- storing fails with an error: ``forget`` deletes the claim, so the gateway's retry is accepted;
- the process dies in between (kill -9, power cut): nobody forgets the claim. It is then taken
  over by a retry once the claim is ``lease_s`` old, so the message is not lost to a stale claim.
  (Re-delivery is harmless anyway: storage is idempotent on the gateway's message id.)

Expired rows are pruned in bounded batches inside each claim's transaction, so the table stays
at roughly one expiry window's worth of traffic without a separate job.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

from sqlalchemy import Connection, Engine, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tocsin.security.txn import write_transaction
from tocsin.store.schema_replay import webhook_replay as t

# Longer than any request can take (body limit 16 KiB, intake commit timeouts are seconds), so a
# live request's claim is never taken over, and short enough that a gateway's retry after a
# crash is accepted.
CLAIM_LEASE_S = 120
PRUNE_BATCH = 64

_CLAIM = {
    name: dialect.insert(t)
    .on_conflict_do_nothing(index_elements=["nonce_key"])
    .returning(t.c.nonce_key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def nonce_key(key: str) -> str:
    """Fixed-size key of a gateway nonce (the cache is keyed by ``"<gateway>:<nonce>"``)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class DatabaseNonceCache:
    """``NonceCache`` shared through the database (see the module docstring)."""

    def __init__(
        self, engine: Engine, *, lease_s: int = CLAIM_LEASE_S, prune_batch: int = PRUNE_BATCH
    ) -> None:
        self.engine = engine
        self.lease_s = lease_s
        self.prune_batch = prune_batch

    def add(self, key: str, *, expires_at: float, now: float) -> bool:
        row_key = nonce_key(key)
        now_s = math.floor(now)
        row = {
            "nonce_key": row_key,
            "claimed_at": now_s,
            "expires_at": math.ceil(expires_at),
            "completed": False,
        }
        with write_transaction(self.engine) as conn:
            fresh = conn.execute(_CLAIM[conn.dialect.name], row).first() is not None
            if not fresh:
                # The row exists: take it over only if it expired, or is a claim whose request
                # died before answering. One UPDATE, so two workers cannot both take it.
                taken = conn.execute(
                    update(t)
                    .where(
                        t.c.nonce_key == row_key,
                        or_(
                            t.c.expires_at <= now_s,
                            and_(
                                t.c.completed.is_(False),
                                t.c.claimed_at <= now_s - self.lease_s,
                            ),
                        ),
                    )
                    .values(claimed_at=now_s, expires_at=row["expires_at"], completed=False)
                )
                fresh = taken.rowcount == 1
            if fresh:
                self._prune(conn, now_s)
        return fresh

    def forget(self, key: str) -> None:
        """Drops a claim whose request failed, so the gateway's retry is accepted."""
        with write_transaction(self.engine) as conn:
            conn.execute(delete(t).where(t.c.nonce_key == nonce_key(key), t.c.completed.is_(False)))

    def complete(self, keys: Iterable[str]) -> None:
        """Marks claims as answered: from now on only expiry frees them."""
        row_keys = [nonce_key(k) for k in keys]
        if not row_keys:
            return
        with write_transaction(self.engine) as conn:
            conn.execute(update(t).where(t.c.nonce_key.in_(row_keys)).values(completed=True))

    def prune(self, now: float, *, batch: int | None = None) -> int:
        """Deletes up to ``batch`` expired rows; returns how many went."""
        with write_transaction(self.engine) as conn:
            return self._prune(conn, math.floor(now), batch)

    def _prune(self, conn: Connection, now_s: int, batch: int | None = None) -> int:
        expired = (
            select(t.c.nonce_key).where(t.c.expires_at <= now_s).limit(batch or self.prune_batch)
        )
        return conn.execute(delete(t).where(t.c.nonce_key.in_(expired))).rowcount or 0


__all__ = ["CLAIM_LEASE_S", "DatabaseNonceCache", "nonce_key"]
