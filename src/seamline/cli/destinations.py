"""`seamline destinations …` and `seamline replay`: the catalog, delivery status, the event
tester and replays from the shell."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seamline.cli.terminal import make_console
from seamline.config import Settings
from seamline.errors import InvalidInput

destinations_app = typer.Typer(no_args_is_help=True, help="Destinations and their deliveries.")
console = make_console()


def register(app: typer.Typer, settings: Any) -> None:
    @destinations_app.command("catalog")
    def catalog(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Every destination Seamline can send to."""
        from seamline.destinations.registry import load, slugs

        found = [load(slug) for slug in slugs()]
        if as_json:
            print(
                json.dumps(
                    [{"slug": d.slug, "name": d.name, "actions": list(d.actions)} for d in found]
                )
            )
            return
        table = Table("slug", "name", "actions")
        for d in found:
            table.add_row(d.slug, d.name, ", ".join(d.actions))
        console.print(table)

    @destinations_app.command("status")
    def status(
        ctx: typer.Context,
        minutes: Annotated[int, typer.Option(help="The window, in minutes.")] = 60,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Per destination and subscription: received, filtered, mapped, delivered, retried,
        failed — with reasons — over the last MINUTES, and what is pending."""
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID
        from seamline.data_dir import open_state
        from seamline.store.outbox_sql import SqlOutbox

        outbox = SqlOutbox(open_state(settings(ctx, state_only=True)))
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        rows = outbox.counts(DEFAULT_WORKSPACE_ID, since)
        pending = outbox.pending(DEFAULT_WORKSPACE_ID)
        dead = outbox.dead(DEFAULT_WORKSPACE_ID)
        if as_json:
            print(
                json.dumps(
                    {
                        "counts": [
                            {
                                "destination": d,
                                "subscription": s,
                                "outcome": o,
                                "reason": r,
                                "count": n,
                            }
                            for d, s, o, r, n in rows
                        ],
                        "pending": pending,
                        "dead_letters": len(dead),
                    }
                )
            )
            return
        table = Table(
            "destination", "subscription", "outcome", "reason", "count", title=f"last {minutes} min"
        )
        for d, s, o, r, n in rows:
            table.add_row(d, s, o, r, str(n))
        console.print(table)
        console.print(f"pending: {pending or 0}; dead letters: {len(dead)}")

    @destinations_app.command("test")
    def test(
        ctx: typer.Context,
        destination: Annotated[str, typer.Argument(help="The destination instance's name.")],
        event_file: Annotated[Path, typer.Option("--event", help="A JSON file with one event.")],
        subscription: Annotated[str | None, typer.Option(help="Only this subscription.")] = None,
    ) -> None:
        """Send one event through a destination's subscriptions and show what was sent."""
        from seamline.app import Seamline

        try:
            event = json.loads(event_file.read_text())
        except (OSError, ValueError) as error:
            raise InvalidInput(f"cannot read an event from {event_file}: {error}") from None

        async def run() -> list[dict[str, Any]]:
            app = Seamline(settings(ctx), roles=frozenset())
            try:
                return await app.destination_ops.test("default", destination, event, subscription)
            finally:
                await app.stop()

        print(json.dumps(asyncio.run(run()), indent=2, default=str))

    @app.command("replay")
    def replay(
        ctx: typer.Context,
        destination: Annotated[str, typer.Option("--destination", help="Instance name.")],
        start: Annotated[str, typer.Option("--from", help="ISO 8601 time (inclusive).")],
        end: Annotated[str, typer.Option("--to", help="ISO 8601 time (exclusive).")],
    ) -> None:
        """Queue stored events of a time range for one destination again (while the server runs
        too; or `POST /api/v1/destinations/NAME/replay`). `serve` delivers them."""
        from seamline.app import Seamline

        begin, finish = _time(start, "--from"), _time(end, "--to")
        if finish <= begin:
            raise InvalidInput("--to must be after --from")
        config: Settings = settings(ctx)

        async def run() -> int:
            app = Seamline(config, roles=frozenset())
            try:
                return await app.destination_ops.replay("default", destination, begin, finish)
            finally:
                await app.stop()

        console.print(f"{asyncio.run(run())} deliveries queued for {destination}")

    app.add_typer(destinations_app, name="destinations")


def _time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{option} must be an ISO 8601 time like 2026-11-29T00:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
