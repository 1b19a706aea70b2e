"""``tocsin alerts``: evaluate triggers, list, acknowledge, deliver, CAP, response indicators.

The command line is the operator on the server: it reads every tier. What it prints is the
alert's headline and state, never the explanation (use ``tocsin alerts cap ID --tier T`` for a
message redacted to a tier). Every change is appended to the audit ledger as ``cli:<user>``.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Alerts: evaluate the triggers, list and acknowledge alerts, deliver, export CAP.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Trigger file (default: $TOCSIN_ALERTS_CONFIG or $TOCSIN_HOME/alerts/triggers.yaml).",
    ),
]
TierOpt = Annotated[
    str, typer.Option(help="Tier to render for: public, internal, restricted or confidential.")
]


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Expected failures end with one line on stderr and exit code 2, no traceback."""
    from tocsin.alerts.lifecycle import InvalidTransition
    from tocsin.alerts.redaction import TierError
    from tocsin.alerts.repository import AlertNotFound, ConcurrentUpdate
    from tocsin.alerts.settings import AlertsNotConfigured

    try:
        yield
    except AlertNotFound as exc:
        err.print(f"[red]error:[/red] no alert {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    except (
        InvalidTransition,
        ConcurrentUpdate,
        TierError,
        AlertsNotConfigured,
        ValueError,
        OSError,
    ) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(code=2) from None


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _engine():  # noqa: ANN202
    from tocsin.store.db import make_engine

    return make_engine()


def _config(path: Path | None):  # noqa: ANN202
    from tocsin.alerts.settings import load_config

    return load_config(path)


def _tier(value: str):  # noqa: ANN202
    from tocsin.domain.taxonomy import SensitivityTier

    try:
        return SensitivityTier(value)
    except ValueError:
        raise ValueError(
            f"tier {value!r} must be public, internal, restricted or confidential"
        ) from None


@app.command("evaluate")
def evaluate_command(
    config_path: ConfigOpt = None,
    at: Annotated[
        str | None, typer.Option(help="Evaluate as of this UTC time (ISO 8601); default now.")
    ] = None,
) -> None:
    """One evaluation round: triggers, new alerts, auto-issue, deliveries queued, escalation."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tocsin.alerts.service import evaluate_round

    with _clear_errors():
        cfg = _config(config_path)
        now = datetime.fromisoformat(at) if at else datetime.now(UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=err) as progress:  # fmt: skip
            progress.add_task(f"evaluating {len(cfg.triggers)} trigger(s)", total=None)
            report = evaluate_round(_engine(), cfg, now=now)
    table = Table(title=f"alert round {report.at:%Y-%m-%d %H:%M} UTC, mission {cfg.mission}")
    table.add_column("trigger")
    table.add_column("candidates", justify="right")
    for trigger in cfg.triggers:
        failed = report.failed_triggers.get(trigger.id)
        shown = "disabled" if not trigger.enabled else failed or str(report.candidates[trigger.id])
        table.add_row(trigger.id, shown)
    out.print(table)
    out.print(
        f"{len(report.created)} new alert(s), {len(report.suppressed)} suppressed duplicate(s), "
        f"{report.already_known} already known, {len(report.issued)} issued, "
        f"{report.queued} delivery(ies) queued, {len(report.escalated)} escalated"
    )
    for note in report.notes:
        out.print(f"note: {note}", highlight=False)
    if report.failed_triggers:
        raise typer.Exit(code=1)


@app.command("list")
def list_command(
    state: Annotated[
        str,
        typer.Option(help="open, draft, closed, suppressed, all, or one state name."),
    ] = "open",
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
) -> None:
    """List alerts, open ones first by acknowledgement deadline."""
    from tocsin.alerts.lifecycle import OPEN_STATES, AlertState
    from tocsin.alerts.repository import list_alerts
    from tocsin.alerts.views import sort_for_attention

    with _clear_errors():
        if state == "open":
            states = OPEN_STATES
        elif state == "all":
            states = None
        else:
            try:
                states = {AlertState(state)}
            except ValueError:
                raise ValueError(f"unknown state {state!r}") from None
        with _engine().connect() as conn:
            found = sort_for_attention(list_alerts(conn, states=states, limit=limit))
    table = Table(title=f"{len(found)} alert(s)")
    for column in ("id", "state", "tier", "severity", "ack deadline", "headline"):
        table.add_column(column)
    for a in found:
        deadline = f"{a.ack_deadline:%Y-%m-%d %H:%M}" if a.ack_deadline else ""
        table.add_row(
            a.id, a.state.value, a.candidate.tier.value, a.candidate.severity.value, deadline,
            a.candidate.headline,
        )  # fmt: skip
    out.print(table)


@app.command("ack")
def ack_command(alert_id: Annotated[str, typer.Argument(help="Alert id.")]) -> None:
    """Acknowledge an issued alert (recorded as the current system user)."""
    from tocsin.alerts.actions import acknowledge_stored, write_ledger
    from tocsin.security.audit import Actor
    from tocsin.security.txn import write_transaction

    with _clear_errors():
        now = datetime.now(UTC)
        with write_transaction(_engine()) as conn:
            step = acknowledge_stored(conn, alert_id, actor=f"user:cli-{_who()}", now=now)
            write_ledger(conn, step.ledger(Actor.cli()), now)
    out.print(f"alert {alert_id} acknowledged")


@app.command("deliver")
def deliver_command(
    config_path: ConfigOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 200,
) -> None:
    """Run the delivery worker once: send what is due on the channels configured here."""
    from tocsin.alerts.delivery.worker import DeliveryWorker
    from tocsin.alerts.settings import build_senders
    from tocsin.config import home
    from tocsin.security.keys import KeyRing

    with _clear_errors():
        cfg = _config(config_path)
        senders = build_senders(cfg)
        worker = DeliveryWorker(_engine(), senders, keys=KeyRing(home()))
        report = worker.run_once(limit=limit, only_equipped=True)
    missing = sorted({c.kind for c in cfg.channels} - set(senders))
    out.print(
        f"{report.delivered} delivered, {report.retried} to retry, {report.dead} dead-lettered"
    )
    if missing:
        out.print(f"not sent from here (no sender configured): {', '.join(missing)}")


@app.command("cap")
def cap_command(
    alert_id: Annotated[str, typer.Argument(help="Alert id.")],
    tier: TierOpt = "internal",
    config_path: ConfigOpt = None,
) -> None:
    """Print the alert as a CAP 1.2 message, redacted for a channel of --tier."""
    from tocsin.alerts.repository import load_alert
    from tocsin.alerts.views import cap_for

    with _clear_errors():
        cfg = _config(config_path)
        with _engine().connect() as conn:
            alert = load_alert(conn, alert_id)
        xml = cap_for(alert, _tier(tier), sender=cfg.sender)
    typer.echo(xml.decode("utf-8"))


@app.command("indicators")
def indicators_command(
    tier: TierOpt = "confidential",
) -> None:
    """Response indicators: time to acknowledge, time to response, share within 24 h."""
    from tocsin.alerts.views import indicators_for

    with _clear_errors(), _engine().connect() as conn:
        found = indicators_for(conn, _tier(tier), datetime.now(UTC))
    table = Table(title=f"response indicators (alerts up to tier {tier})")
    table.add_column("indicator")
    table.add_column("value", justify="right")
    for key, value in found.items():
        table.add_row(key.replace("_", " "), "n/a" if value is None else str(value))
    out.print(table)
