"""``/api/v1/health``: liveness, without touching the database (also the benchmark baseline)."""

from __future__ import annotations

from fastapi import APIRouter

from tocsin import __version__

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get("/health", summary="Liveness")
def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}
