"""Browser tests: real headless Chromium (Debian's) driven by Playwright, against the real app
served by uvicorn on 127.0.0.1 in a thread.

- ``browser`` (session): Chromium from ``/usr/bin/chromium``; missing -> fails in CI.
- ``live_app`` (module): a fresh SQLite database with the events and users a module seeds
  through its own ``seed_live_app`` fixture, served on a random port.
- ``page``: a fresh browser context and page per test that records console errors, failed
  requests and Content-Security-Policy violations; ``support.page_problems(page)`` returns
  them.
- ``screenshot(page, name)``: saves ``test-artifacts/screenshots/<name>.png``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import LiveApp
from tests.support.requirements import require
from tocsin.api.app import create_app
from tocsin.api.settings import Settings
from tocsin.security.passwords import fast_passwords_for_tests
from tocsin.store.db import make_engine

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"

_PROBLEM_RECORDER = """
window.__tocsinProblems = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__tocsinProblems.push('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require(CHROMIUM.exists(), f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a dev dependency
        require(False, "the playwright Python package is not installed")
        raise
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def live_app(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[LiveApp]:
    import uvicorn

    home = tmp_path_factory.mktemp("live-home")
    engine = make_engine(f"sqlite:///{home / 'tocsin.sqlite'}")
    settings = Settings(home=home, passwords=fast_passwords_for_tests())
    app = create_app(engine, settings, background=False)
    live = LiveApp("", engine, settings, app.state.services.keys)
    seed: Callable[[LiveApp], None] | None = getattr(request.module, "seed_live_app", None)
    if seed is not None:
        seed(live)
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    live.url = f"http://127.0.0.1:{port}"
    try:
        yield live
    finally:
        server.should_exit = True
        server.force_exit = True  # do not wait for the browser's idle keep-alive connections
        thread.join(timeout=10)
        sock.close()
        engine.dispose()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.add_init_script(_PROBLEM_RECORDER)
    new_page = context.new_page()
    problems: list[str] = []
    new_page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}")
            if msg.type in ("error", "warning")
            else None
        ),
    )
    new_page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # A request cancelled by a navigation (net::ERR_ABORTED) is not a failure of the page.
    new_page.on(
        "requestfailed",
        lambda req: (
            problems.append(f"request failed: {req.url} {req.failure}")
            if "ERR_ABORTED" not in (req.failure or "")
            else None
        ),
    )
    new_page.tocsin_problems = problems  # type: ignore[attr-defined]
    try:
        yield new_page
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    # Files are named after what they show and overwritten by each run; nothing is deleted
    # here, so screenshots of other browser tests in the same run stay.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
