"""``tocsin serve``: the API and pages on 127.0.0.1 by default, without a server banner."""

from __future__ import annotations

import logging

import typer


def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to bind (keep 127.0.0.1 behind a TLS reverse proxy)."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=32, help="Server processes (each with its own rate limits)."
    ),
    proxy_headers: bool = typer.Option(
        False,
        "--proxy-headers",
        help="Trust X-Forwarded-For/Proto from the reverse proxy on 127.0.0.1 (for TLS).",
    ),
) -> None:
    """Serve the API (/api/v1) and the pages. Stop with Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    import uvicorn  # imported here so that other commands start fast

    from tocsin.api.tcp import uvicorn_protocol_options

    options = {
        "host": host,
        "port": port,
        "server_header": False,  # no fingerprint
        "access_log": False,  # ours logs paths without query strings (tocsin.access)
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": "127.0.0.1" if proxy_headers else None,
        "log_level": "info",
        # httptools + uvloop, Nagle off: see tocsin.api.tcp for why.
        **uvicorn_protocol_options(),
    }
    typer.echo(f"Tocsin on http://{host}:{port}/ (API at /api/v1, schema /api/v1/openapi.json)")
    if workers > 1:
        # Each worker process builds its own app from the environment.
        uvicorn.run("tocsin.api.app:create_app", factory=True, workers=workers, **options)
        return
    from tocsin.api.app import create_app

    uvicorn.run(create_app(), **options)
