"""``tocsin events merge`` and ``tocsin events unmerge``: the API's incident merges, locally.

The command line runs as the trusted local operator, but like ``tocsin events show`` it reads
only up to ``--max-tier`` (default ``internal``): an event above it is "not found", so merging
restricted or confidential incidents needs the operator to name that tier. Each command is one
transaction with its ledger entries (actor ``cli:<login>``); a refusal writes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text
from sqlalchemy.exc import IntegrityError

from tocsin.domain.taxonomy import CaseClass, SensitivityTier
from tocsin.security import audit
from tocsin.security.audit import Actor
from tocsin.security.policies import AccessScope
from tocsin.security.txn import write_transaction
from tocsin.store.db import make_engine
from tocsin.verify import event_merge_store as store

out_console = Console()
err_console = Console(stderr=True)

MaxTierOpt = Annotated[
    SensitivityTier,
    typer.Option("--max-tier", help="Highest sensitivity tier the command may read and merge."),
]


def _scope(max_tier: SensitivityTier) -> AccessScope:
    return AccessScope(frozenset(t for t in SensitivityTier if t <= max_tier), frozenset(CaseClass))


def _fail(message: str) -> typer.Exit:
    err_console.print(Text.assemble(("error: ", "bold red"), message))
    return typer.Exit(code=2)


def _run(operation) -> store.MergeOutcome:  # noqa: ANN001 - (conn, actor, now) -> outcome
    actor = Actor.cli()
    now = datetime.now(UTC)
    engine = make_engine()
    try:
        with write_transaction(engine) as conn:
            outcome = operation(conn, actor, now)
            audit.append(conn, outcome.ledger_entries(actor), now)
        return outcome
    except (store.EventNotFound, store.MergeNotFound) as exc:
        raise _fail(
            str(exc)
            if isinstance(exc, store.EventNotFound)
            else "no such merge within --max-tier, or already undone"
        ) from None
    except (store.MergeRefused, store.MergeConflict, store.MergeError) as exc:
        raise _fail(str(exc)) from None
    except IntegrityError:
        raise _fail("one of these events was merged meanwhile; try again") from None
    finally:
        engine.dispose()


def merge_command(
    survivor: Annotated[str, typer.Argument(help="uid of the incident that stays.")],
    members: Annotated[list[str], typer.Argument(help="uids of the duplicates to fold into it.")],
    reason: Annotated[str, typer.Option("--reason", help="Why they are the same incident.")],
    max_tier: MaxTierOpt = SensitivityTier.INTERNAL,
) -> None:
    """Merge duplicate incidents into SURVIVOR (it takes the highest tier of all; undoable)."""
    scope = _scope(max_tier)
    outcome = _run(
        lambda conn, actor, now: store.merge_stored_events(
            conn, scope, survivor, members, reason=reason, now=now, actor=actor
        )
    )
    out_console.print(
        f"merged {len(outcome.member_uids)} event(s) into {outcome.survivor_uid} "
        f"(now {outcome.sensitivity}, {outcome.case_class}); merge id {outcome.merge_id}"
    )


def unmerge_command(
    merge_id: Annotated[str, typer.Argument(help="The merge id printed by 'events merge'.")],
    force: Annotated[
        bool, typer.Option("--force", help="Also discard edits made to the survivor since.")
    ] = False,
    max_tier: MaxTierOpt = SensitivityTier.INTERNAL,
) -> None:
    """Undo a merge of incidents: every event back exactly as it was."""
    scope = _scope(max_tier)
    outcome = _run(
        lambda conn, actor, now: store.undo_stored_merge(
            conn, scope, merge_id, now=now, actor=actor, force=force
        )
    )
    out_console.print(f"restored {', '.join(outcome.member_uids)} beside {outcome.survivor_uid}")


__all__ = ["merge_command", "unmerge_command"]
