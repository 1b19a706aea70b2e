"""Short garbage-collector pauses in a serving process.

After start-up a worker holds about 300,000 long-lived objects: modules, SQLAlchemy metadata,
pydantic models, routes. CPython's full (generation 2) collection walks every one of them: about
125 ms on an idle machine and 180-200 ms under load on 2 cores, with the whole process stopped.
Under `bench/api_load.py`'s search load at 200 req/s it ran about once per 10 s in each worker,
and each time every request queued in that worker waited for it: those pauses were the
requests at the p99.

``gc.freeze()`` moves every object alive at that moment into the permanent generation, which
collections no longer walk (the use the Python documentation gives it for servers). It runs at
the end of start-up, and again after the first requests, once the first requests have built
what is built lazily (compiled statements, pooled connections, imports inside functions).
Objects created afterwards are collected as before, so reference cycles made while serving are
still found; what is frozen is what the process keeps until it exits anyway.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable

# After how many requests to freeze again: the first ones build the lazy state of the routes
# used most, later ones that of rarer routes (exports, reports).
REFREEZE_AFTER: tuple[int, ...] = (200, 20_000)


def freeze_heap() -> int:
    """Collects once, then freezes what is left; returns how many objects are now frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class HeapFreezer:
    """Counts a serving process's requests and freezes its heap at start-up and after the
    counts in ``after``. Called from the event loop only (no lock needed)."""

    def __init__(
        self, after: Iterable[int] = REFREEZE_AFTER, freeze: Callable[[], int] = freeze_heap
    ) -> None:
        self._due = sorted(set(after))
        self._freeze = freeze
        self.seen = 0

    def start(self) -> int:
        return self._freeze()

    def note_request(self) -> None:
        self.seen += 1
        if self._due and self.seen >= self._due[0]:
            self._due.pop(0)
            self._freeze()
