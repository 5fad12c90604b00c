"""`seamline identity …`: identity rules versions (`rules show|set|preview|apply`) here, and
probabilistic matching's review (`proposals`, `match`) from cli/identity_matches.py.

`rules set FILE` saves a draft and changes nothing in force; `rules preview N` says what
version N would merge and split; `rules apply N` re-resolves history under it (beside a running
server, pausing its pipeline only for the swap) and makes it the version in force.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from seamline.cli.terminal import make_console
from seamline.errors import InvalidInput

console = make_console()
errors = make_console(stderr=True)

PHASES = {
    "shadow": "re-resolving history into a shadow graph",
    "pause": "pausing the pipeline",
    "catch-up": "catching up",
    "swap": "swapping the graph in",
    "replay": "replaying history under the rules",
    "compare": "comparing with the live graph",
}


def read_rules(path: Path) -> Any:
    """The identity rules document in a YAML or JSON file: the whole file, or its `identity:`
    section (so a `seamline apply` file works as it is). InvalidInput in one line."""
    try:
        text = path.read_text()
        loaded = yaml.safe_load(text)
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "unreadable"
        hint = " (YAML indents with spaces, never tabs)" if "\t" in text else ""
        raise InvalidInput(f"{path} is not valid YAML{where}: {problem}{hint}") from None
    if isinstance(loaded, dict) and set(loaded) == {"identity"}:
        return loaded["identity"]
    return loaded


@contextmanager
def _progress() -> Iterator[Any]:
    from rich.progress import Progress, TaskID

    with Progress(console=errors, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def show(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(PHASES.get(phase, phase), total=total or 1)
            progress.update(tasks[phase], completed=done, total=total or 1)

        yield show


def register(app: typer.Typer, settings: Any) -> None:
    """Add `identity` to `app`; `settings(ctx, **options)` gives a command's Settings."""
    from seamline.cli.identity_matches import register as register_matches

    identity = typer.Typer(
        no_args_is_help=True, help="Identity resolution: rules versions, matching review."
    )
    app.add_typer(identity, name="identity")
    rules = typer.Typer(
        no_args_is_help=True, help="Identity rules versions: show, set, preview, apply."
    )
    identity.add_typer(rules, name="rules")
    register_matches(identity, settings)

    def ops_of(ctx: typer.Context) -> Any:
        from seamline.data_dir import open_state
        from seamline.identity.rules_document import document_from_settings
        from seamline.ops.identity_rules import IdentityRulesOps
        from seamline.store.identity_rules_sql import SqlIdentityRules

        config = settings(ctx)
        seed = document_from_settings(config)
        return IdentityRulesOps(config, SqlIdentityRules(open_state(config), seed=lambda: seed))

    @rules.command("show")
    def show(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """The rules in force and every saved version."""
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID
        from seamline.identity.rules_document import rules_from_document

        ops = ops_of(ctx)
        try:
            found = ops.overview(DEFAULT_WORKSPACE_ID)
        finally:
            ops.store.engine.dispose()
        if as_json:
            print(json.dumps(found))
            return
        active = found["active"]
        console.print(f"in force: version {active['version']} (by {active['created_by']})")
        console.print(yaml.safe_dump(active["document"], sort_keys=True), highlight=False)
        # The document lists only what differs from the defaults; this is what is in force.
        in_force = Table("type", "priority", "limit", "window", title="identifier types in force")
        for name, rule in rules_from_document(active["document"]).listed():
            window = "" if rule.window_seconds is None else f"{rule.window_seconds} s"
            limit = "none" if rule.limit is None else str(rule.limit)
            in_force.add_row(name, str(rule.priority), limit, window)
        console.print(in_force)
        table = Table("version", "state", "created", "by", "activated")
        for v in found["versions"]:
            table.add_row(
                str(v["version"]),
                v["state"],
                v["created_at"][:19],
                v["created_by"],
                (v["activated_at"] or "")[:19],
            )
        console.print(table)

    @rules.command("set")
    def set_(
        ctx: typer.Context,
        file: Annotated[Path, typer.Argument(help="YAML or JSON: the rules, or `identity:`.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Save FILE as a new draft version (nothing changes until it is applied)."""
        from seamline.cli.audit import cli_recorded
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID

        document = read_rules(file)
        ops = ops_of(ctx)
        try:
            saved = ops.save(DEFAULT_WORKSPACE_ID, document, "cli")
            cli_recorded(
                ops.store.engine,
                "identity_rules.draft",
                "identity_rules",
                str(saved.version),
                after=saved.document,
            )
        finally:
            ops.store.engine.dispose()
        if as_json:
            print(json.dumps({"version": saved.version, "state": saved.state}))
            return
        console.print(
            f"saved version {saved.version} as a draft; see what it would change with "
            f"`seamline identity rules preview {saved.version}`, then "
            f"`seamline identity rules apply {saved.version}`",
            highlight=False,
        )

    @rules.command("preview")
    def preview(
        ctx: typer.Context,
        version: Annotated[int, typer.Argument(help="The version to preview.", min=1)],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """What applying VERSION would merge and split, computed on a copy."""
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID

        ops = ops_of(ctx)
        try:
            with _progress() as show:
                found = ops.preview(DEFAULT_WORKSPACE_ID, version, show)
        finally:
            ops.store.engine.dispose()
        if as_json:
            print(json.dumps(found._asdict()))
            return
        console.print(
            f"profiles: {found.profiles_before} now, {found.profiles_after} under version "
            f"{version}; {found.merges} merge(s), {found.splits} split(s)",
            highlight=False,
        )
        for example in found.examples:
            console.print(
                f"  {example['kind']}: {', '.join(example['profiles'])} "
                f"({', '.join(example['identifiers'])})",
                highlight=False,
                markup=False,
            )

    @rules.command("apply")
    def apply(
        ctx: typer.Context,
        version: Annotated[int, typer.Argument(help="The version to apply.", min=1)],
    ) -> None:
        """Re-resolve history under VERSION and make it the rules in force (waits)."""
        from seamline.cli.audit import cli_recorded
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID

        ops = ops_of(ctx)
        try:
            ops.check_apply(DEFAULT_WORKSPACE_ID, version)
            cli_recorded(ops.store.engine, "identity_rules.apply", "identity_rules", str(version))
            with _progress() as show:
                done = ops.apply(DEFAULT_WORKSPACE_ID, version, show)
        finally:
            ops.store.engine.dispose()
        console.print(
            f"version {version} is in force: history re-resolved from {done.processed} log records",
            highlight=False,
        )
