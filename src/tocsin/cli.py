"""The ``tocsin`` command. Each capability owns its sub-commands; this file only mounts them."""

from __future__ import annotations

import typer

from tocsin.db_commands import app as db_app
from tocsin.demo import demo

app = typer.Typer(
    name="tocsin",
    help="Tocsin: early warning and incident management for the protection of civilians.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals can hold personal data
)
app.add_typer(db_app, name="db")
app.command("demo")(demo)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
