"""The batching step shared by the group-commit writer threads (intake reports, ledger reads):
block for one job, then take whatever is already queued, so concurrent requests share one
transaction without any of them waiting for more to arrive."""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import TypeVar

J = TypeVar("J")


def next_batch(
    jobs: queue.Queue[J | None],
    max_jobs: int,
    size: Callable[[J], int] | None = None,
    max_size: int | None = None,
) -> tuple[list[J], bool]:
    """(the next batch, stop?). ``None`` on the queue asks the writer to stop: the jobs taken
    before it are still returned, to be committed first. With ``size``, the batch also ends
    once the jobs' sizes add up to ``max_size``."""
    first = jobs.get()
    if first is None:
        return [], True
    batch = [first]
    total = size(first) if size is not None else 0
    while len(batch) < max_jobs and (max_size is None or total < max_size):
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return batch, False
        if job is None:
            return batch, True
        batch.append(job)
        if size is not None:
            total += size(job)
    return batch, False
