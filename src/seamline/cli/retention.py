"""`seamline retention show|set|expire`: how long the workspace keeps its log and events, and
running the expiry job now."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from seamline.cli.terminal import make_console
from seamline.errors import Conflict

console = make_console()


def register(app: typer.Typer, settings: Any) -> None:
    """Add `retention` to `app`; `settings(ctx, **options)` gives a command's Settings."""
    group = typer.Typer(
        no_args_is_help=True,
        help="Retention of the log and the event store (profiles are not subject to it).",
    )
    app.add_typer(group, name="retention")

    @group.command("show")
    def show(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """The workspace's retention and what the last expiry removed."""
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID
        from seamline.data_dir import open_state
        from seamline.store.retention_sql import SqlRetention

        engine = open_state(settings(ctx, state_only=True))
        try:
            store = SqlRetention(engine)
            setting, last = store.setting(DEFAULT_WORKSPACE_ID), store.last_run()
        finally:
            engine.dispose()
        if as_json:
            print(json.dumps({"retention": setting, "last_run": last and last.as_json()}))
            return
        console.print(f"retention: {setting}")
        console.print(f"last expiry: {describe(last.as_json()) if last else 'never'}")

    @group.command("set")
    def set_(
        ctx: typer.Context,
        retention: Annotated[str, typer.Argument(help="30d, 90d, 180d, 365d, 3y or unlimited.")],
    ) -> None:
        """Keep the log's and the event store's messages this long after their receivedAt."""
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID
        from seamline.data_dir import open_state
        from seamline.privacy.retention import parse_retention
        from seamline.store.retention_sql import SqlRetention

        value = parse_retention(retention)  # a bad value: one line, exit 2, nothing changed
        engine = open_state(settings(ctx, state_only=True))
        try:
            SqlRetention(engine).set(DEFAULT_WORKSPACE_ID, value)
        finally:
            engine.dispose()
        console.print(f"retention: {value} (the pipeline applies it within the hour)")

    @group.command("expire")
    def expire(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Remove what is past retention now (the pipeline does it every hour). Beside a
        running server, its pipeline is asked to do it and this waits for it."""
        from seamline.ops.retention import WorkersRunning, ask_pipeline, expire_here

        config = settings(ctx)
        with console.status("expiring…") as shown:
            try:
                run = expire_here(
                    config,
                    datetime.now(UTC),
                    lambda what: shown.update(f"expiring: {what}…"),
                )
            except WorkersRunning:
                raise
            except Conflict:
                shown.update("asking the running pipeline to expire…")
                run = ask_pipeline(config)
        if as_json:
            print(json.dumps(run and run.as_json()))
        elif run is None:
            console.print("nothing to expire: every workspace keeps everything (unlimited)")
        else:
            console.print(f"expired: {describe(run.as_json())}")


def describe(run: dict[str, Any]) -> str:
    """One line for a run of the expiry job (`Expired.as_json`)."""
    return (
        f"{run['ran_at']}: {run['log_records']} log records ({run['log_segments']} segments), "
        f"{run['events']} stored events ({run['event_files']} files)"
    )
