"""`seamline audit list|verify`: read the audit trail and check its hash chain."""

from __future__ import annotations

import json
from typing import Annotated, Any

import msgspec
import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from seamline.cli.terminal import make_console
from seamline.ops.tokens import token_document

__all__ = ["cli_recorded", "cli_recorded_change", "register", "token_document"]

console = make_console()
WORKSPACE = "default"


def register(app: typer.Typer, settings: Any) -> None:
    audit = typer.Typer(no_args_is_help=True, help="The audit trail: who changed or read what.")
    app.add_typer(audit, name="audit")

    @audit.command("list")
    def audit_list(
        ctx: typer.Context,
        since: Annotated[
            str | None, typer.Option("--since", help="ISO 8601 time or date, inclusive.")
        ] = None,
        until: Annotated[
            str | None, typer.Option("--until", help="ISO 8601 time or date, exclusive.")
        ] = None,
        action: Annotated[
            str | None, typer.Option("--action", help="e.g. resource.update, profile.read.")
        ] = None,
        actor: Annotated[str | None, typer.Option("--actor", help="An actor's id or name.")] = None,
        resource_type: Annotated[str | None, typer.Option("--resource-type")] = None,
        resource_id: Annotated[str | None, typer.Option("--resource-id")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """The newest entries of the default workspace's trail, newest first."""
        from seamline.access.audit import parse_filter
        from seamline.data_dir import open_state
        from seamline.store.audit_sql import SqlAuditTrail

        where = parse_filter(
            actor=actor,
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            since=since,
            until=until,
        )
        trail = SqlAuditTrail(open_state(settings(ctx, state_only=True)))
        found = trail.entries(WORKSPACE, where, limit=limit, before_seq=None)
        if as_json:
            print(json.dumps(msgspec.to_builtins(found)))
            return
        table = Table("seq", "at", "actor", "action", "resource")
        for entry in found:
            table.add_row(
                str(entry.seq),
                entry.at.isoformat(timespec="seconds"),
                escape(f"{entry.actor.kind}:{entry.actor.name}"),
                entry.action,
                escape(f"{entry.resource.type}:{entry.resource.id}"),
            )
        console.print(table)

    @audit.command("verify")
    def audit_verify(ctx: typer.Context) -> None:
        """Walk the whole hash chain: OK with the count and the head hash (keep it elsewhere
        to prove later that the trail grew from it), or the first broken entry and exit 1."""
        from seamline.data_dir import open_state
        from seamline.store.audit_sql import SqlAuditTrail

        verdict = SqlAuditTrail(open_state(settings(ctx, state_only=True))).verify()
        if verdict.ok:
            print(f"OK: {verdict.count} entries, head {verdict.head_hash}")
            return
        print(
            f"BROKEN at entry {verdict.broken_seq}: {verdict.reason} "
            f"({verdict.count} entries before it are intact)"
        )
        raise typer.Exit(1)


def cli_recorded(
    engine: Engine,
    action: str,
    resource_type: str,
    resource_id: str,
    *,
    before: Any = None,
    after: Any = None,
    workspace_id: str = WORKSPACE,
) -> None:
    """Record what a command did, in the name of the operator at the shell (`cli_principal`)."""
    from seamline.access.audit import record
    from seamline.access.principal import cli_principal
    from seamline.store.audit_sql import SqlAuditTrail

    record(
        SqlAuditTrail(engine),
        cli_principal(workspace_id),
        action,
        resource_type,
        resource_id,
        before=before,
        after=after,
    )


def cli_recorded_change(
    engine: Engine,
    resource_type: str,
    resource_id: str,
    before: Any,
    after: Any,
    *,
    workspace_id: str = WORKSPACE,
) -> None:
    """Record `resource.create|update|delete` by the operator, unless nothing changed."""
    from seamline.access.audit import record_change
    from seamline.access.principal import cli_principal
    from seamline.store.audit_sql import SqlAuditTrail

    record_change(
        SqlAuditTrail(engine),
        cli_principal(workspace_id),
        resource_type,
        resource_id,
        before,
        after,
    )
