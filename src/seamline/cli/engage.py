"""`seamline audiences …` and `seamline traits …`: create, estimate, list, members, compute."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from rich.table import Table

from seamline.cli.terminal import make_console
from seamline.errors import InvalidInput

console = make_console()
T = TypeVar("T")
WORKSPACE = "default"


def _definition(path: Path) -> dict[str, Any]:
    try:
        found = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise InvalidInput(f"cannot read a definition from {path}: {error}") from None
    if not isinstance(found, dict):
        raise InvalidInput(f"{path}: a definition is a mapping (see docs/engage.md)")
    return found


def _with_app(config: Any, work: Callable[[Any], T], started: bool = False) -> T:
    """Run `work(app)` in a thread on a Seamline with no role, beside a running server if
    there is one: it reads the stores, and what it announces (audience entries and exits) is
    appended to the log for the pipeline to route. (`started` is kept for callers: the log is
    always connected now.)"""
    from seamline.app import Seamline

    async def run() -> T:
        app = Seamline(config, roles=frozenset())
        try:
            await app.start()  # no role: connects the log (JetStream) and nothing more
            return await asyncio.to_thread(work, app)
        finally:
            await app.stop()

    return asyncio.run(run())


def register(app: typer.Typer, settings: Any) -> None:
    for collection, kind, noun in (
        ("audiences", "audience", "audience"),
        ("traits", "computed_trait", "computed trait"),
    ):
        app.add_typer(_commands(kind, noun, settings), name=collection)
    app.add_typer(_predictions(settings), name="predictions")


def _predictions(settings: Any) -> typer.Typer:
    group = typer.Typer(no_args_is_help=True, help="Engage: predictive traits.")

    @group.command("train")
    def train(
        ctx: typer.Context,
        file: Annotated[Path, typer.Option("-f", "--file", help="YAML or JSON spec.")],
    ) -> None:
        """Train on history (time split), print held-out metrics, score every profile and
        write each score as the trait KEY (see docs/predictions.md)."""
        spec = _definition(file)

        def work(app: Any) -> dict[str, Any]:
            with console.status(f"training {spec.get('key')} on history…"):
                found: dict[str, Any] = app.engage_ops.predict(WORKSPACE, spec)
            return found

        found = _with_app(settings(ctx), work, started=True)
        console.print(found["text"])
        console.print(f"{found['changed']} scores changed and announced")

    return group


def _commands(kind: str, noun: str, settings: Any) -> typer.Typer:
    group = typer.Typer(no_args_is_help=True, help=f"Engage: {noun}s (also while serving).")

    def with_app(ctx: typer.Context, work: Callable[[Any], T], started: bool = False) -> T:
        return _with_app(settings(ctx), work, started)

    @group.command("create")
    def create(
        ctx: typer.Context,
        key: Annotated[str, typer.Argument(help="The key (becomes the trait name).")],
        file: Annotated[Path, typer.Option("-f", "--file", help="YAML or JSON definition.")],
    ) -> None:
        """Save a definition and compute it over all history (announcing every member)."""
        from seamline.cli.audit import cli_recorded_change
        from seamline.workspace.saving import prepare

        definition = _definition(file)

        def work(app: Any) -> dict[str, Any]:
            app.engage_ops.with_definition(WORKSPACE, kind, key, definition)
            canonical = prepare(WORKSPACE, kind, key, definition, app.resources, app.sealer)
            before = app.resources.get(WORKSPACE, kind, key)
            stored = app.resources.put(WORKSPACE, kind, key, canonical)
            cli_recorded_change(
                app.parts.state, kind, key, before and before.document, stored.document
            )
            app.rules.invalidate(WORKSPACE)
            with console.status(f"computing {key} over all history…"):
                result: dict[str, Any] = app.engage_ops.compute(WORKSPACE, key)
            return result

        found = with_app(ctx, work, started=True)
        size, changed = found["size"], found["changed"]
        console.print(f"{noun} {key}: {size} profiles, {changed} changes announced")

    @group.command("estimate")
    def estimate(
        ctx: typer.Context,
        key: Annotated[str, typer.Argument(help="The key it would have.")],
        file: Annotated[Path, typer.Option("-f", "--file", help="YAML or JSON definition.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Size and 10 sample profiles of a definition, without saving it."""
        definition = _definition(file)
        found = with_app(ctx, lambda app: app.engage_ops.estimate(WORKSPACE, kind, key, definition))
        if as_json:
            print(json.dumps(found))
            return
        console.print(found["text"])
        console.print(f"{found['size']} profiles ({found['took_ms']} ms); sample:")
        for pid in found["sample"]:
            console.print(f"  {pid}")

    @group.command("list")
    def listing(
        ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
    ) -> None:
        """Every definition with its text form and current size."""
        found = with_app(ctx, lambda app: app.engage_ops.summary(WORKSPACE, kind))
        if as_json:
            print(json.dumps(found))
            return
        table = Table("key", "definition", "size")
        for row in found:
            table.add_row(row["key"], row["text"], str(row["size"]))
        console.print(table)

    @group.command("compute")
    def compute(ctx: typer.Context, key: Annotated[str, typer.Argument()]) -> None:
        """Recompute over all history now and announce what changed."""

        def work(app: Any) -> dict[str, Any]:
            with console.status(f"computing {key} over all history…"):
                result: dict[str, Any] = app.engage_ops.compute(WORKSPACE, key)
            return result

        found = with_app(ctx, work, started=True)
        took = found["took_ms"]
        console.print(f"{key}: {found['size']} profiles, {found['changed']} changed ({took} ms)")

    if kind == "audience":

        @group.command("members")
        def members(
            ctx: typer.Context,
            key: Annotated[str, typer.Argument()],
            limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
        ) -> None:
            """Profiles in the audience, by id."""
            found = with_app(ctx, lambda app: app.engage_ops.members(WORKSPACE, key, limit, ""))
            for pid in found["members"]:
                print(pid)

    return group
