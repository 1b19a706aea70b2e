"""`tocsin serve` uses httptools + uvloop with a protocol that sets TCP_NODELAY, so multi-worker
servers do not hold keep-alive responses ~40 ms for Nagle's algorithm (uvicorn issue #3149)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from typer.testing import CliRunner
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tocsin.api.tcp import NoDelayH11Protocol, NoDelayHttpToolsProtocol
from tocsin.cli import app


class _Transport:
    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def get_extra_info(self, name: str) -> Any:
        return self._sock if name == "socket" else None


@pytest.mark.parametrize(
    ("protocol_class", "base"),
    [(NoDelayHttpToolsProtocol, HttpToolsProtocol), (NoDelayH11Protocol, H11Protocol)],
)
def test_protocol_turns_nagle_off_on_an_accepted_socket(
    monkeypatch: pytest.MonkeyPatch, protocol_class: type, base: type
) -> None:
    monkeypatch.setattr(base, "connection_made", lambda self, transport: None)
    # proto=0, as uvicorn's multi-worker listener: accepted sockets keep Nagle on by default.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname()) as _client:
            accepted, _ = listener.accept()
            with accepted:
                accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
                protocol = protocol_class.__new__(protocol_class)
                protocol.connection_made(_Transport(accepted))  # type: ignore[arg-type]
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_passes_the_nodelay_protocol_to_uvicorn(
    monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    seen: dict[str, Any] = {}

    def fake_run(app_or_path: Any, **options: Any) -> None:
        seen.update(options)

    monkeypatch.setattr("uvicorn.run", fake_run)
    result = CliRunner().invoke(app, ["serve", "--workers", workers, "--port", "8765"])
    assert result.exit_code == 0, result.output
    assert import_from_string(seen["http"]) is NoDelayHttpToolsProtocol
    assert seen["loop"] == "uvloop"
    assert seen["host"] == "127.0.0.1" and seen["server_header"] is False
