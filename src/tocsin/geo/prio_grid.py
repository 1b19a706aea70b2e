"""PRIO-GRID v2: 0.5-degree cells numbered row by row from (-90, -180), starting at 1."""

from __future__ import annotations

import math

CELL_DEG = 0.5
COLUMNS = 720


def gid_for_point(latitude: float, longitude: float) -> int:
    row = min(int(math.floor((latitude + 90.0) / CELL_DEG)), 359)
    col = min(int(math.floor((longitude + 180.0) / CELL_DEG)), COLUMNS - 1)
    return row * COLUMNS + col + 1


def cell_center(gid: int) -> tuple[float, float]:
    """(latitude, longitude) of the cell's centre."""
    row, col = divmod(gid - 1, COLUMNS)
    return row * CELL_DEG - 90.0 + CELL_DEG / 2, col * CELL_DEG - 180.0 + CELL_DEG / 2


def cell_bounds(gid: int) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat)."""
    row, col = divmod(gid - 1, COLUMNS)
    min_lat = row * CELL_DEG - 90.0
    min_lon = col * CELL_DEG - 180.0
    return min_lon, min_lat, min_lon + CELL_DEG, min_lat + CELL_DEG


def neighbours(gid: int) -> list[int]:
    """The up to eight cells touching ``gid`` (queen contiguity), wrapping at the antimeridian."""
    row, col = divmod(gid - 1, COLUMNS)
    out = []
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == dc == 0:
                continue
            r = row + dr
            if not 0 <= r < 360:
                continue
            c = (col + dc) % COLUMNS
            out.append(r * COLUMNS + c + 1)
    return out
