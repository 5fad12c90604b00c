"""`seamline models list|run|runs`: Reverse ETL models from the shell. Models are defined in
the `models:` section of `seamline apply` (or `PUT /api/v1/models/NAME`); a run started here
queues its changes in the outbox, which the server's deliver role sends."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from seamline.cli.audit import cli_recorded
from seamline.cli.terminal import make_console
from seamline.errors import InvalidInput

console = make_console()
WORKSPACE = "default"


def register(app: typer.Typer, settings: Any) -> None:
    group = typer.Typer(no_args_is_help=True, help="Reverse ETL models: list, run, run history.")
    app.add_typer(group, name="models")

    @group.command("list")
    def list_(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Every model with its source, schedule, subscriptions and last run."""
        from seamline.data_dir import open_state
        from seamline.store.models_sql import SqlModelState
        from seamline.store.resources_sql import SqlResourceStore

        engine = open_state(settings(ctx, state_only=True))
        try:
            models = SqlResourceStore(engine).list(WORKSPACE, "model")
            state = SqlModelState(engine)
            last = {m.name: state.runs(WORKSPACE, m.name, limit=1) for m in models}
        finally:
            engine.dispose()
        shown = [
            {
                "name": m.name,
                "source": m.document["source"]["type"],
                "schedule": m.document.get("schedule", "manual"),
                "enabled": m.document.get("enabled", True),
                "subscriptions": sorted(m.document.get("subscriptions") or {}),
                "last_run": last[m.name][0].as_json() if last[m.name] else None,
            }
            for m in models
        ]
        if as_json:
            print(json.dumps(shown))
            return
        table = Table("model", "source", "schedule", "enabled", "subscriptions", "last run")
        for m in shown:
            run = m["last_run"]
            table.add_row(
                m["name"],
                m["source"],
                m["schedule"],
                "yes" if m["enabled"] else "no",
                ", ".join(m["subscriptions"]),
                f"{run['status']} {run['started_at']}" if run else "never",
            )
        console.print(table)

    @group.command("run")
    def run(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The model's name.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Run a model now: read its rows, queue the added, updated and deleted ones its
        subscriptions send. A failed run prints its error and exits 2."""
        from seamline.roles.models import model_runner
        from seamline.roles.parts import Parts

        parts = Parts(settings(ctx), frozenset())
        try:
            found = model_runner(parts).run(WORKSPACE, name)
            cli_recorded(parts.state, "model.run", "model", name, after=found.as_json())
        finally:
            parts.close()
        if as_json:
            print(json.dumps(found.as_json()))
        if found.status != "succeeded":
            raise InvalidInput(f"model {name!r} failed: {found.error}")
        if not as_json:
            console.print(
                f"model {name}: {found.rows_read} rows read; {found.added} added, "
                f"{found.updated} updated, {found.deleted} deleted; {found.queued} queued"
            )

    @group.command("runs")
    def runs(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The model's name.")],
        limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """A model's runs, newest first: status, counts and error."""
        from seamline.data_dir import open_state
        from seamline.store.models_sql import SqlModelState

        engine = open_state(settings(ctx, state_only=True))
        try:
            found = SqlModelState(engine).runs(WORKSPACE, name, limit=max(1, min(limit, 1000)))
        finally:
            engine.dispose()
        if as_json:
            print(json.dumps([r.as_json() for r in found]))
            return
        table = Table(
            "run",
            "trigger",
            "status",
            "started",
            "read",
            "added",
            "updated",
            "deleted",
            "queued",
            "error",
        )
        for r in found:
            table.add_row(
                str(r.id),
                r.trigger,
                r.status,
                r.started_at.isoformat(timespec="seconds"),
                str(r.rows_read),
                str(r.added),
                str(r.updated),
                str(r.deleted),
                str(r.queued),
                (r.error or "")[:80],
            )
        console.print(table)
