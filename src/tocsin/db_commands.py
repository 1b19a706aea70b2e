"""``tocsin db``: where the store is and how to migrate it."""

from __future__ import annotations

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from tocsin import config
from tocsin.store.db import make_engine, normalise_url

app = typer.Typer(help="Create, migrate and locate the event store.", no_args_is_help=True)
console = Console()


@app.command("upgrade")
def upgrade() -> None:
    """Create the store if needed and apply all migrations."""
    engine = make_engine()
    console.print(f"store ready: {_safe_url(str(engine.url))}")


@app.command("where")
def where() -> None:
    """Print the database URL in use (without its password)."""
    console.print(_safe_url(config.database_url()))


def _safe_url(url: str) -> str:
    return make_url(normalise_url(url)).render_as_string(hide_password=True)
