"""The ``tocsin`` command. Each capability owns its sub-commands; this file only mounts them."""

from __future__ import annotations

import typer

from tocsin.alerts.commands import app as alerts_app
from tocsin.api.commands import serve
from tocsin.db_commands import app as db_app
from tocsin.demo import demo
from tocsin.forecast.commands import app as forecast_app
from tocsin.ingest.commands import gazetteer_app, ingest
from tocsin.scenario.commands import app as scenario_app
from tocsin.security.commands import audit_app, users_app
from tocsin.store.commands import app as events_app
from tocsin.verify.event_merge_cli import merge_command, unmerge_command
from tocsin.web.commands import sitrep

app = typer.Typer(
    name="tocsin",
    help="Tocsin: early warning and incident management for the protection of civilians.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals can hold personal data
)
app.add_typer(db_app, name="db")
app.add_typer(scenario_app, name="scenario")
app.command("demo")(demo)
app.add_typer(events_app, name="events")
events_app.command("merge")(merge_command)
events_app.command("unmerge")(unmerge_command)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.command("serve")(serve)
app.command("ingest")(ingest)
app.add_typer(gazetteer_app, name="gazetteer")
app.command("sitrep")(sitrep)
app.add_typer(forecast_app, name="forecast")
app.add_typer(alerts_app, name="alerts")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
