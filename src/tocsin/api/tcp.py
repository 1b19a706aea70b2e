"""uvicorn's h11 protocol with TCP_NODELAY on every accepted connection.

With ``--workers N`` uvicorn binds the listening socket itself with ``proto=0``; accepted sockets
inherit it and asyncio then skips TCP_NODELAY (it sets it only when ``proto == IPPROTO_TCP``).
Nagle's algorithm plus the client's delayed ACK then adds about 40 ms to every keep-alive request
after the first (uvicorn issue #3149; measured by bench/api_load.py: health 2 ms with one worker,
45-50 ms with two). The class lives at module level so worker processes can import it by name.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol


class NoDelayH11Protocol(H11Protocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
