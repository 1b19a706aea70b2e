"""A serving process freezes its start-up heap, so full collections stay short (tocsin.api.heap).

Before, a worker's generation-2 collection walked ~300k start-up objects: 125 ms idle, about
200 ms under load, once per ~10 s per worker at 200 searches/s (BENCHMARKS.md, api_load)."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.support import Clock, fast_passwords_for_tests
from tocsin.api.app import create_app
from tocsin.api.heap import HeapFreezer, freeze_heap
from tocsin.api.settings import Settings


@pytest.fixture
def thawed() -> Iterator[None]:
    """The test process's collector is left as it was found."""
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def _young_cycles(n: int) -> list[_Node]:
    return [_Node() for _ in range(n)]


def test_frozen_objects_leave_full_collections(thawed: None) -> None:
    keep = _young_cycles(50_000)
    start = time.process_time()
    gc.collect()
    walked_all = time.process_time() - start
    frozen = freeze_heap()
    assert frozen >= len(keep)
    start = time.process_time()
    gc.collect()
    walked_young = time.process_time() - start
    # Not a timing assertion on the machine: the frozen objects are no longer in any
    # generation, which is what makes the walk short.
    assert all(len(gc.get_objects(generation=g)) < 5_000 for g in range(3))
    assert walked_young <= walked_all or walked_all < 0.001
    del keep


def test_cycles_made_after_the_freeze_are_still_collected(thawed: None) -> None:
    freeze_heap()
    _young_cycles(1_000)  # garbage at once: only the collector can free it
    assert gc.collect() >= 1_000


def test_freezes_again_after_the_given_request_counts() -> None:
    calls: list[int] = []
    freezer = HeapFreezer(after=(5, 3, 5), freeze=lambda: calls.append(freezer.seen) or 0)
    freezer.start()
    for _ in range(8):
        freezer.note_request()
    assert calls == [0, 3, 5]  # at start-up, then once at each distinct due count


def test_a_serving_app_freezes_at_start_up_and_a_test_app_does_not(
    thawed: None, sqlite_engine: Engine, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, passwords=fast_passwords_for_tests(), clock=Clock())
    plain = create_app(sqlite_engine, settings, background=False)
    with TestClient(plain) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert plain.state.services.heap is None
        assert gc.get_freeze_count() == 0
    serving = create_app(sqlite_engine, settings, background=True)
    with TestClient(serving) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert serving.state.services.heap is not None
        assert gc.get_freeze_count() > 10_000  # modules, metadata, routes, models
