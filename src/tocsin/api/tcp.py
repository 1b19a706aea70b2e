"""How ``tocsin serve`` runs uvicorn: httptools + uvloop, with TCP_NODELAY on every connection.

Protocol: uvicorn's httptools protocol (llhttp, a C parser) rather than h11 (pure Python). On the
search benchmark h11's parsing and response writing were about a sixth of a worker's CPU per
request (bench/api_load.py, BENCHMARKS.md); the event loop is uvloop for the same reason.

TCP_NODELAY: with ``--workers N`` uvicorn binds the listening socket itself with ``proto=0``;
accepted sockets inherit it and asyncio then skips TCP_NODELAY (it sets it only when
``proto == IPPROTO_TCP``). Nagle's algorithm plus the client's delayed ACK then adds about 40 ms
to every keep-alive request after the first (uvicorn issue #3149; measured by bench/api_load.py:
health 2 ms with one worker, 45-50 ms with two). The classes live at module level so worker
processes can import them by name.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _no_delay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


MAX_HEAD_BYTES = 16 * 1024
"""The most a request line plus headers may take, as h11's default. httptools itself has no
limit: a client could otherwise grow one header without end in the parser's buffer."""

_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 36\r\n"
    b"connection: close\r\n\r\n"
    b"Request line and headers over 16 KiB"
)


class NoDelayHttpToolsProtocol(HttpToolsProtocol):
    """httptools with Nagle off and a bound on the request head (``MAX_HEAD_BYTES``)."""

    _in_head = True
    _head_bytes = 0
    _reset_in_chunk = False
    _head_too_large = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._reset_in_chunk = True, 0, True

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._head_too_large = True
            raise ValueError("request head too large")  # the parser turns it into a 400...

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        # ...which is answered as what it is.
        self.logger.warning("Request head over %d bytes refused.", MAX_HEAD_BYTES)
        self.transport.write(_HEAD_TOO_LARGE)
        self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes, self._reset_in_chunk = True, 0, True

    def data_received(self, data: bytes) -> None:
        self._reset_in_chunk = False
        super().data_received(data)
        if not self._in_head or self.transport.is_closing():
            return
        # Still inside a head after this chunk: a header the parser is still buffering. The
        # callbacks above count completed parts; this counts the chunks of an unfinished one
        # (not the chunk in which a message began or ended: it also held a body or the
        # previous message), so the parser never buffers more than MAX_HEAD_BYTES + one read.
        if not self._reset_in_chunk:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._head_too_large = True
                self.send_400_response("")


class NoDelayH11Protocol(H11Protocol):
    """Kept for servers that must avoid C extensions; ``tocsin serve`` uses httptools."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)


def uvicorn_protocol_options() -> dict[str, Any]:
    """The protocol and loop options ``tocsin serve`` (and the API benchmark) pass to uvicorn."""
    return {"http": "tocsin.api.tcp:NoDelayHttpToolsProtocol", "loop": "uvloop"}
