"""`seamline apply`, `violations`, `held` and `inventory`: workspace configuration as code and
what the data-quality stages recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from rich.table import Table

from seamline.cli.terminal import make_console
from seamline.config import Settings
from seamline.errors import InvalidInput

held_app = typer.Typer(no_args_is_help=True, help="Held messages: blocked, quarantined, failed.")
console = make_console()


def register(app: typer.Typer, settings: Any) -> None:
    """Add the commands to `app`; `settings(ctx)` gives the Settings for a command."""

    @app.command("apply")
    def apply(
        ctx: typer.Context,
        file: Annotated[Path, typer.Option("-f", "--file", help="The workspace YAML file.")],
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show the changes.")] = False,
        prune: Annotated[
            bool, typer.Option("--prune", help="Delete resources the file does not name.")
        ] = False,
    ) -> None:
        """Make the workspace match FILE: shows the changes first, applies them once agreed."""
        from seamline.access.sealing import Sealer, key_from
        from seamline.cli.audit import cli_recorded_change
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID
        from seamline.data_dir import open_state
        from seamline.store.resources_sql import SqlResourceStore
        from seamline.store.sources_sql import SqlSourceStore
        from seamline.workspace.apply import desired, plan_changes, read_file, source_ids
        from seamline.workspace.saving import prepare

        config: Settings = settings(ctx)
        engine = open_state(config)
        document = read_file(file)
        workspace = str(document.get("workspace") or DEFAULT_WORKSPACE_ID)
        source_id = source_ids(SqlSourceStore(engine).list(workspace), workspace)
        store = SqlResourceStore(engine)
        sealer = Sealer(key_from(config.secret_key, config.data_dir))

        def save(kind: str, name: str, spec: dict[str, Any], pending: Any) -> dict[str, Any]:
            return prepare(
                workspace,
                kind,
                name,
                spec,
                store,
                sealer,
                pending,
                allow_private=config.destinations_allow_private,
            )

        wanted = desired(document, file.parent, source_id, save)
        changes = plan_changes(store.list(workspace), wanted, prune=prune)
        hooks = _webhook_changes(engine, store, sealer, workspace, document, wanted)
        identity = _identity_change(engine, config, workspace, document)
        count = len(changes) + len(hooks) + (identity is not None)
        if not count:
            console.print("no changes: the workspace already matches the file")
            return
        for change in changes:
            console.print(change.describe(), highlight=False, markup=False)
        for hook in hooks:
            console.print(hook.describe(), highlight=False, markup=False)
        if identity is not None:
            console.print(identity.describe(), highlight=False, markup=False)
        console.print(f"{count} change(s)")
        if dry_run:
            return
        if not yes and not typer.confirm("Apply these changes?"):
            console.print("nothing changed")
            raise typer.Exit(1)
        for change in changes:
            if change.after is None:
                store.delete(workspace, change.kind, change.name)
            else:
                store.put(workspace, change.kind, change.name, change.after)
            cli_recorded_change(
                engine,
                change.kind,
                change.name,
                change.before,
                change.after,
                workspace_id=workspace,
            )
        _apply_webhooks(engine, store, sealer, hooks)
        if identity is not None:
            _save_identity(engine, config, workspace, identity)
        console.print(f"applied {count} change(s)")

    def _identity_change(engine: Any, config: Settings, workspace: str, document: Any) -> Any:
        """The file's `identity:` section as a new draft of the rules (docs/identity.md)."""
        if "identity" not in document:
            return None
        from seamline.identity.rules_apply import plan_identity
        from seamline.identity.rules_document import document_from_settings
        from seamline.store.identity_rules_sql import SqlIdentityRules

        seed = document_from_settings(config)
        return plan_identity(document, SqlIdentityRules(engine, seed=lambda: seed), workspace)

    def _save_identity(engine: Any, config: Settings, workspace: str, identity: Any) -> None:
        from seamline.cli.audit import cli_recorded
        from seamline.identity.rules_apply import save_identity
        from seamline.store.identity_rules_sql import SqlIdentityRules

        saved = save_identity(identity, SqlIdentityRules(engine), workspace, "cli")
        cli_recorded(
            engine,
            "identity_rules.draft",
            "identity_rules",
            str(saved.version),
            before=identity.before,
            after=saved.document,
            workspace_id=workspace,
        )
        console.print(
            f"identity rules saved as draft version {saved.version}, not applied yet: "
            f"`seamline identity rules preview {saved.version}` shows what it would merge "
            f"and split, `seamline identity rules apply {saved.version}` re-resolves history "
            "under it",
            highlight=False,
            markup=False,
        )

    def _webhook_changes(
        engine: Any, store: Any, sealer: Any, workspace: str, document: Any, wanted: Any
    ) -> list[Any]:
        """The file's `webhook_sources:` changes (docs/sources/webhooks.md)."""
        if not document.get("webhook_sources"):
            return []
        from seamline.ops.sources import SourceOps
        from seamline.sources.apply import plan_webhooks
        from seamline.sources.webhook import WebhookOps
        from seamline.store.sources_sql import SqlSourceStore
        from seamline.store.webhooks_sql import SqlWebhookSources
        from seamline.workspace.apply import from_environment

        sources = SourceOps(SqlSourceStore(engine))
        return plan_webhooks(
            document,
            lambda name: sources.find(workspace, name),
            WebhookOps(SqlWebhookSources(engine), store, sealer),
            from_environment,
            new_functions=[name for kind, name in wanted if kind == "function"],
        )

    def _apply_webhooks(engine: Any, store: Any, sealer: Any, hooks: list[Any]) -> None:
        from seamline.cli.audit import cli_recorded
        from seamline.sources.apply import apply_webhook
        from seamline.sources.webhook import WebhookOps
        from seamline.store.webhooks_sql import SqlWebhookSources

        ops = WebhookOps(SqlWebhookSources(engine), store, sealer)
        for hook in hooks:
            url = apply_webhook(ops, hook)
            after = {"function": hook.function}
            cli_recorded(engine, "source.webhook", "source", hook.source.id, after=after)
            if url is not None:
                console.print(
                    f"webhook source {hook.source.name!r}: URL path (shown once) {url}",
                    soft_wrap=True,
                    highlight=False,
                    markup=False,
                )

    @app.command("violations")
    def violations(
        ctx: typer.Context,
        source: Annotated[str | None, typer.Option(help="Source name or id.")] = None,
        summary: Annotated[bool, typer.Option(help="Counts per event and rule.")] = False,
        limit: Annotated[int, typer.Option(help="How many (newest first).")] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Tracking-plan violations recorded by the pipeline."""
        store, workspace, source_id = _protocols(settings(ctx, state_only=True), source)
        if summary:
            counts = store.violation_counts(workspace, source_id=source_id)
            if as_json:
                print(json.dumps(msgspec.to_builtins(counts)))
                return
            table = Table("source", "event", "rule", "count", "last seen")
            for c in counts:
                table.add_row(
                    c.source_id, c.event_name or "", c.rule, str(c.count), c.last_seen.isoformat()
                )
            console.print(table)
            return
        found = store.violations(workspace, source_id=source_id, limit=limit)
        if as_json:
            print(json.dumps([{"id": i, **msgspec.to_builtins(v)} for i, v in found]))
            return
        table = Table("event", "message id", "path", "rule", "expected", "actual")
        for _, v in found:
            table.add_row(
                v.event_name or v.message_type or "",
                v.message_id or "",
                v.path,
                v.rule,
                v.expected,
                v.actual,
            )
        console.print(table)

    @app.command("inventory")
    def inventory(
        ctx: typer.Context,
        source: Annotated[str | None, typer.Option(help="Source name or id.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Every field seen per source, with its PII classification (never a value)."""
        from seamline.data_dir import open_state
        from seamline.store.inventory_sql import SqlInventory

        config: Settings = settings(ctx, state_only=True)
        _, workspace, source_id = _protocols(config, source)
        entries = SqlInventory(open_state(config)).entries(workspace, source_id)
        if as_json:
            print(
                json.dumps(
                    [
                        {k: v for k, v in msgspec.to_builtins(e).items() if k != "last_offset"}
                        for e in entries
                    ]
                )
            )
            return
        table = Table("source", "path", "class", "kind", "count", "last seen")
        for e in entries:
            table.add_row(
                e.source_id,
                e.path,
                e.classification.value,
                e.kind or "",
                str(e.count),
                e.last_seen.isoformat(),
            )
        console.print(table)

    @held_app.command("list")
    def held_list(
        ctx: typer.Context,
        source: Annotated[str | None, typer.Option(help="Source name or id.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Messages held back and not re-run yet."""
        store, workspace, source_id = _protocols(settings(ctx, state_only=True), source)
        found = store.held(workspace, source_id=source_id)
        if as_json:
            print(json.dumps(msgspec.to_builtins(found)))
            return
        table = Table("id", "source", "disposition", "message id", "reason")
        for h in found:
            table.add_row(str(h.id), h.source_id, h.disposition, h.message_id or "", h.reason)
        console.print(table)

    @held_app.command("rerun")
    def held_rerun(
        ctx: typer.Context,
        source: Annotated[str | None, typer.Option(help="Source name or id.")] = None,
    ) -> None:
        """Run held messages through the pipeline again (appended to the log beside a running
        server; or `POST /api/v1/held/rerun`)."""
        import asyncio

        from seamline.app import Seamline

        config: Settings = settings(ctx)
        store, workspace, source_id = _protocols(config, source)

        async def run() -> int:
            # No role: appends to a log partition of its own, beside a running server.
            app = Seamline(config, roles=frozenset())
            try:
                return await app.rerun(store.held(workspace, source_id=source_id, limit=100_000))
            finally:
                await app.stop()

        count = asyncio.run(run())
        console.print(
            f"{count} message(s) appended to the log again; `seamline serve` processes them"
        )

    app.add_typer(held_app, name="held")


def _protocols(config: Settings, source: str | None) -> tuple[Any, str, str | None]:
    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.store.protocols_sql import SqlProtocolsStore
    from seamline.store.sources_sql import SqlSourceStore

    engine = open_state(config)
    source_id = None
    if source is not None:
        match = [s for s in SqlSourceStore(engine).list() if source in (s.id, s.name)]
        if not match:
            raise InvalidInput(f"no source named {source!r}; see `seamline sources list`")
        source_id = match[0].id
    return SqlProtocolsStore(engine), DEFAULT_WORKSPACE_ID, source_id
