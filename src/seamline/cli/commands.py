"""The `seamline` command line."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import msgspec
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from seamline.cli.audit import register as register_audit
from seamline.cli.destinations import register as register_destinations
from seamline.cli.engage import register as register_engage
from seamline.cli.identity import register as register_identity
from seamline.cli.models import register as register_models
from seamline.cli.protocols import register as register_protocols
from seamline.cli.regulations import register as register_regulations
from seamline.cli.retention import register as register_retention
from seamline.cli.terminal import make_console
from seamline.cli.users import register as register_users
from seamline.cli.webhook_sources import SecretOption, SettingOption
from seamline.cli.webhook_sources import register as register_webhook_sources
from seamline.config import Settings, load_settings
from seamline.data_dir import PRIVATE_UMASK
from seamline.errors import InvalidInput, SeamlineError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
sources_app = typer.Typer(no_args_is_help=True, help="Sources and their write keys.")
events_app = typer.Typer(no_args_is_help=True, help="Accepted and stored events.")
tokens_app = typer.Typer(
    no_args_is_help=True, help="Access tokens for the Profile and management APIs."
)
profiles_app = typer.Typer(no_args_is_help=True, help="Resolved profiles.")
app.add_typer(sources_app, name="sources")
app.add_typer(events_app, name="events")
app.add_typer(tokens_app, name="tokens")
app.add_typer(profiles_app, name="profiles")
console = make_console()
errors = Console(stderr=True, soft_wrap=True)


class _Options(msgspec.Struct):
    data_dir: Path | None = None


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (default: ./seamline-data)."),
    ] = None,
) -> None:
    """Seamline: an open-source customer data platform that speaks Segment's wire format."""
    ctx.obj = _Options(data_dir=data_dir)


def _settings(
    ctx: typer.Context, *, create: bool = False, state_only: bool = False, **overrides: Any
) -> Settings:
    """The command's settings; refuses a data directory that does not exist unless `create`
    (serve, init). `state_only` commands need none when the state store is PostgreSQL."""
    from seamline.data_dir import require_data_dir

    options: _Options = ctx.obj
    settings = load_settings(data_dir=options.data_dir, **overrides)
    if not create:
        require_data_dir(settings, state_only=state_only)
    return settings


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8088).")] = None,
    role: Annotated[
        str | None,
        typer.Option(
            help="Run one role in this process: collect, pipeline, deliver, or all (every role "
            "in one process). Without it, a supervisor runs each role as a process.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Collect processes (default: one per core)."),
    ] = None,
) -> None:
    """Run Seamline on the embedded stores: the Tracking API, the pipeline and delivery."""
    from seamline.roles.names import ROLES

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migrations say nothing when fine
    if role is not None and role not in ROLES:
        raise InvalidInput(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    settings = _settings(ctx, create=True, host=host, port=port)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handler
    # that was installed before it; making that one exit 0 turns a clean stop into status 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _exit_cleanly)
    if role is None or role == "all":
        _serve_here(settings, role)
        return
    from seamline.roles import STOP_ASKED

    if role in ("pipeline", "deliver"):
        # A stop asked for while the role is still starting is remembered, not obeyed at once:
        # the role starts, then stops the orderly way (the pipeline drains the log).
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stop_signal, lambda *_: STOP_ASKED.set())
    from seamline.bootstrap import bootstrap
    from seamline.roles import process

    bootstrap(settings)  # the state store's schema, when this role starts first
    sys.exit(process.run_role(settings, role))


def _serve_here(settings: Settings, role: str | None) -> None:
    """The supervisor (`role` None) or every role in this process (`all`), with the banner."""
    # Not `seamline.app`: the supervisor only starts processes, and each role imports the
    # server itself; importing it here too delayed every role's start by ~2 s of CPU.
    from seamline.bootstrap import bootstrap
    from seamline.cli.banner import print_banner
    from seamline.data_dir import DataDir
    from seamline.metrics import shared_dir
    from seamline.ports import ensure_can_listen
    from seamline.roles import supervisor
    from seamline.roles.locks import ServeLock

    ensure_can_listen(settings.host, settings.port)  # before a write key is made or printed
    paths = DataDir(settings.data_dir)
    lock = ServeLock(paths.lock)
    lock.acquire()  # one `serve` per data directory
    source = bootstrap(settings)
    print_banner(console, settings, source)
    if role == "all":
        from seamline.roles.process import run_role

        run_role(settings, "all")
    else:
        workers = settings.collect_workers or supervisor.default_workers()
        supervisor.Supervisor(
            supervisor.role_command(), workers, paths.roles, shared_dir(paths.root)
        ).run()
    logging.getLogger("seamline").info("stopped; accepted events were processed")


def _exit_cleanly(_signal: int, _frame: object) -> None:
    sys.exit(0)


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What is running on the data directory: processes, log lag, deliveries."""
    from rich.table import Table

    from seamline.cli.retention import describe
    from seamline.data_dir import open_state
    from seamline.ops.status import status as read_status

    settings = _settings(ctx)
    engine = open_state(settings)
    try:
        found = read_status(settings, engine)
    finally:
        engine.dispose()
    if as_json:
        print(json.dumps(found))
        return
    if found["processes"]:
        table = Table("role", "pid", "running", "restarts", "last exit", title="processes")
        for p in found["processes"]:
            table.add_row(
                f"{p['role']}-{p['index']}",
                str(p["pid"] or "-"),
                "yes" if p["running"] else "no",
                str(p["restarts"]),
                "-" if p["last_exit"] is None else str(p["last_exit"]),
            )
        console.print(table)
    else:
        console.print("no supervisor is running on this data directory")
    table = Table("partition", "end", "committed", "lag", title="log")
    for row in found["partitions"]:
        table.add_row(*(str(row[k]) for k in ("partition", "end", "committed", "lag")))
    console.print(table)
    console.print(f"deliveries pending: {found['pending']}  dead letters: {found['dead_letters']}")
    retention = found["retention"]
    kept = ", ".join(f"{w} {r}" for w, r in sorted(retention["settings"].items()))
    last = retention["last_run"]
    console.print(
        f"retention: {kept or 'unlimited'}  last expiry: {describe(last) if last else 'never'}"
    )
    if found["regulations_running"]:
        console.print(
            f"regulations running: {found['regulations_running']} (`seamline regulations list`)"
        )


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the data directory and its state store without starting the server (`serve`
    does this on first start), e.g. to create sources and tokens first."""
    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import DataDir, make_private, open_sources

    settings = _settings(ctx, create=True)
    open_sources(settings).ensure_workspace(DEFAULT_WORKSPACE_ID, "Default")
    # With the state in PostgreSQL nothing above touched the directory; the commands that
    # read the log or the event store (`status`, `events`) still need it to exist.
    make_private(DataDir(settings.data_dir).root)
    console.print(f"Seamline data directory ready at {escape(str(settings.data_dir.resolve()))}")


@app.command()
def rebuild(ctx: typer.Context) -> None:
    """Rebuild profiles, traits and the event store by replaying the whole log.

    Sources, tokens and unmerges are kept; everything derived from events is recomputed with
    the current rules. While the server runs, the rebuild goes to a shadow store and swaps it
    in, pausing the pipeline only for the catch-up and the swap.
    """
    from rich.progress import Progress, TaskID

    from seamline.ops.rebuild import rebuild_beside_server, replay, reset_derived, server_running

    settings = _settings(ctx)
    if server_running(settings):
        phases = {
            "shadow": "replaying the log into a shadow store",
            "pause": "pausing the pipeline",
            "catch-up": "catching up",
            "swap": "swapping",
        }
        with Progress(console=errors, transient=True) as progress:
            tasks: dict[str, TaskID] = {}

            def show(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = progress.add_task(phases[phase], total=total or 1)
                progress.update(tasks[phase], completed=done, total=total or 1)

            online = rebuild_beside_server(settings, show)
        console.print(f"rebuilt from {online.processed} log records beside the running server")
        _warn_held(online.errors_held)
        return
    total = reset_derived(settings)
    with Progress(console=errors, transient=True) as progress:
        task = progress.add_task("replaying the log", total=total or 1)
        done = replay(settings, lambda offset: progress.update(task, completed=offset))
    console.print(f"rebuilt from {done.processed} log records")
    _warn_held(done.errors_held)


def _warn_held(errors_held: int) -> None:
    if errors_held:
        errors.print(
            f"[yellow]warning:[/] {errors_held} records failed in a stage and were held "
            "(disposition error); see `seamline held list`, fix the cause, then re-run them"
        )


@sources_app.command("create")
def sources_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name people recognise, e.g. 'Website'.")],
    write_key: Annotated[
        str | None, typer.Option("--write-key", help="Use this write key instead of a random one.")
    ] = None,
    kind: Annotated[
        str, typer.Option("--type", help="'segment' (SDKs, Tracking API) or 'webhook'.")
    ] = "segment",
    template: Annotated[
        str | None, typer.Option("--template", help="A webhook source's template: stripe, shopify.")
    ] = None,
    function: Annotated[
        str | None, typer.Option("--function", help="A webhook source's function (by name).")
    ] = None,
    setting: SettingOption = None,
    secret_setting: SecretOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a source in the default workspace and print its write key (and, for a webhook
    source, its secret webhook URL, shown once)."""
    from seamline.cli.audit import cli_recorded
    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.ops.sources import SourceOps, source_document
    from seamline.store.sources_sql import SqlSourceStore

    if kind not in ("segment", "webhook"):
        raise InvalidInput(f"--type is segment or webhook, not {kind!r}")
    if kind != "webhook" and (template or function or setting or secret_setting):
        raise InvalidInput("--template, --function and settings need --type webhook")
    settings = _settings(ctx, state_only=True)
    if kind == "webhook":  # refused options change nothing: checked before the source exists
        from seamline.cli.webhook_sources import check_webhook

        check_webhook(
            settings,
            DEFAULT_WORKSPACE_ID,
            template=template,
            function=function,
            plain=setting,
            secret=secret_setting,
        )
    engine = open_state(settings)
    source = SourceOps(SqlSourceStore(engine)).create(DEFAULT_WORKSPACE_ID, name, write_key)
    cli_recorded(engine, "source.create", "source", source.id, after=source_document(source))
    if kind == "webhook":
        from seamline.cli.webhook_sources import make_webhook, print_webhook

        made, token = make_webhook(
            settings,
            source,
            template=template,
            function=function,
            plain=setting,
            secret=secret_setting,
        )
        if as_json:
            from seamline.sources.webhook import webhook_view

            view = {"id": source.id, "name": source.name, "write_key": source.write_key}
            print(json.dumps({**view, "webhook": webhook_view(made, token)}))
            return
        console.print(f"Created webhook source [bold]{source.name}[/] ({source.id})")
        print_webhook(made, token, as_json=False)
        return
    if as_json:
        print(json.dumps({"id": source.id, "name": source.name, "write_key": source.write_key}))
    else:
        console.print(f"Created source [bold]{source.name}[/] ({source.id})")
        # Whole lines (soft wrap) on a terminal too: a key folded by Rich copies as two lines.
        console.print(
            f"write key: [bold green]{escape(source.write_key)}[/]", soft_wrap=True, highlight=False
        )


@sources_app.command("list")
def sources_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List sources with their write keys."""
    from rich.table import Table

    from seamline.data_dir import open_sources
    from seamline.ops.sources import source_view

    found = open_sources(_settings(ctx, state_only=True)).list()
    rows = [source_view(s, show_key=True) for s in found]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("id", "name", "write key", "enabled")
    for s in found:
        table.add_row(s.id, s.name, s.write_key, str(s.enabled))
    console.print(table)


@events_app.command("count")
def events_count(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How many messages the log accepted and how many the event store holds."""
    from seamline.ops.inspect import count_events

    counts = count_events(_settings(ctx))
    if as_json:
        print(json.dumps(counts))
    else:
        accepted = "n/a (JetStream: see `seamline status`)"
        if counts["accepted"] is not None:
            accepted = str(counts["accepted"])
        console.print(f"accepted: {accepted}  stored: {counts['stored']}")


@events_app.command("tail")
def events_tail(
    ctx: typer.Context,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=0,
            help="How many: the last N accepted events (default 10), or the first N with "
            "--from-start.",
        ),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Then keep printing new events (Ctrl-C stops).")
    ] = False,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Start at the first accepted event.")
    ] = False,
) -> None:
    """Print accepted events, one JSON line each, like `tail`: the last 10 (or --limit N) and
    exit; --follow keeps printing new ones; --from-start starts at the first event."""
    from seamline.errors import InvalidInput
    from seamline.ops.inspect import tail_log

    if from_start and follow and limit is not None:
        raise InvalidInput(
            "--limit counts from the first event with --from-start, so it cannot be combined "
            "with --follow; drop one of them"
        )
    data_dir = _settings(ctx).data_dir
    start, count = (0, limit) if from_start else (None, 10 if limit is None else limit)
    try:
        for line in tail_log(data_dir, start=start, count=count, follow=follow):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="What the token is for.")],
    roles: Annotated[
        list[str] | None,
        typer.Option(
            "--role",
            help="A role, or ROLE:RESOURCE,… scoped to named sources, destinations or "
            "resources (repeatable; none: workspace-owner). See docs/access.md.",
        ),
    ] = None,
    pii_access: Annotated[
        bool, typer.Option("--pii-access", help="Sees yellow and red PII unmasked.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an access token for the default workspace; it is shown only this once."""
    from seamline.access.permissions import describe
    from seamline.access.tokens import create_token
    from seamline.cli.audit import cli_recorded, token_document
    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.ops.tokens import token_grants
    from seamline.store.sources_sql import SqlSourceStore
    from seamline.store.tokens_sql import SqlTokenStore

    if not name.strip():
        raise typer.BadParameter("--name must not be empty")
    engine = open_state(_settings(ctx, state_only=True))
    sources = SqlSourceStore(engine)
    sources.ensure_workspace(DEFAULT_WORKSPACE_ID, "Default")
    known = [(s.id, s.name) for s in sources.list(DEFAULT_WORKSPACE_ID)]
    grants = token_grants(roles or (), known)
    record, secret = create_token(
        SqlTokenStore(engine), DEFAULT_WORKSPACE_ID, name.strip(), grants, pii_access=pii_access
    )
    cli_recorded(engine, "token.create", "token", record.id, after=token_document(record))
    if as_json:
        print(
            json.dumps(
                {
                    "id": record.id,
                    "name": record.name,
                    "token": secret,
                    "roles": describe(record.grants),
                    "pii_access": record.pii_access,
                }
            )
        )
    else:
        console.print(
            f"token [bold green]{secret}[/] ({escape(record.name)}, "
            f"{escape(', '.join(describe(record.grants)))}); store it now",
            soft_wrap=True,
            highlight=False,
        )


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The default workspace's tokens: name, id, roles, PII access, when created, last used (to
    the minute) and revoked; never the token itself."""
    from rich.table import Table

    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.ops.tokens import token_row
    from seamline.store.tokens_sql import SqlTokenStore

    found = SqlTokenStore(open_state(_settings(ctx, state_only=True))).in_workspace(
        DEFAULT_WORKSPACE_ID
    )
    rows = [token_row(t) for t in found]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("name", "id", "roles", "pii", "created", "last used", "revoked")
    for row in rows:
        table.add_row(
            escape(row["name"]),
            row["id"],
            escape(" ".join(row["roles"])),
            "yes" if row["pii_access"] else "no",
            row["created_at"],
            row["last_used_at"] or "never",
            row["revoked_at"] or "",
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The token's name (or id), from `tokens list`.")],
) -> None:
    """Revoke a token: from now on it gets 401 "unknown or revoked token"."""
    from seamline.access.tokens import revoke_token
    from seamline.cli.audit import cli_recorded, token_document
    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.store.tokens_sql import SqlTokenStore

    engine = open_state(_settings(ctx, state_only=True))
    for token in revoke_token(SqlTokenStore(engine), DEFAULT_WORKSPACE_ID, name):
        cli_recorded(engine, "token.revoke", "token", token.id, before=token_document(token))
        console.print(f"revoked token {escape(token.name)} ({token.id})", highlight=False)


@tokens_app.command("rotate")
def tokens_rotate(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The token's name (or id), from `tokens list`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A new secret for a token, with the same name, roles and PII access; the old secret
    gets 401 from now on. The new one is shown only this once."""
    from seamline.access.tokens import rotate_token
    from seamline.cli.audit import cli_recorded, token_document
    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.store.tokens_sql import SqlTokenStore

    engine = open_state(_settings(ctx, state_only=True))
    record, secret = rotate_token(SqlTokenStore(engine), DEFAULT_WORKSPACE_ID, name)
    after = {**token_document(record), "rotated": name}
    cli_recorded(engine, "token.rotate", "token", record.id, after=after)
    if as_json:
        print(json.dumps({"id": record.id, "name": record.name, "token": secret}))
    else:
        console.print(
            f"token [bold green]{secret}[/] ({escape(record.name)}) replaces the old one; "
            "store it now",
            soft_wrap=True,
            highlight=False,
        )


@profiles_app.command("show")
def profiles_show(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Argument(help="type:value (user_id:abc) or a profile id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A profile's id, identifiers and traits."""
    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.profiles.lookup import find_profile
    from seamline.store.identity_sql import SqlIdentityGraph
    from seamline.store.traits_sql import SqlTraitStore

    engine = open_state(_settings(ctx, state_only=True))
    graph = SqlIdentityGraph(engine)
    profile_id = find_profile(graph, DEFAULT_WORKSPACE_ID, identifier)
    shown = {
        "profile_id": profile_id,
        "merged_profiles": [p for p in graph.members(profile_id) if p != profile_id],
        "external_ids": [
            {
                "type": row["type"],
                "id": row["sent_value"] or row["value"],  # a phone as it was sent
                "created_at": row["first_seen"].isoformat(),
            }
            for row in graph.identifiers_of(profile_id)
        ],
        "traits": SqlTraitStore(engine).traits_of(profile_id),
    }
    if as_json:
        print(json.dumps(shown))
    else:
        console.print_json(json.dumps(shown))


@profiles_app.command("merge-history")
def profiles_merge_history(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Argument(help="type:value (user_id:abc) or a profile id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every merge that built the profile, oldest first, with the message that caused it."""
    from rich.table import Table

    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.profiles.lookup import find_profile
    from seamline.store.identity_sql import SqlIdentityGraph

    graph = SqlIdentityGraph(open_state(_settings(ctx, state_only=True)))
    profile_id = find_profile(graph, DEFAULT_WORKSPACE_ID, identifier)
    found = graph.merges_of(DEFAULT_WORKSPACE_ID, profile_id)
    if as_json:
        history = [
            {
                "merge_id": merge.id,
                "from_profile": merge.from_id,
                "into_profile": merge.into_id,
                "message_id": merge.message_id,
                "identifiers": [str(i) for i in merge.identifiers],
                "merged_at": merge.at.isoformat(),
                "kind": merge.kind,
                "score": merge.score,
            }
            for merge in found
        ]
        print(json.dumps(history))
        return
    table = Table("merge id", "merged at", "from", "into", "message", "because of")
    for merge in found:
        table.add_row(
            str(merge.id),
            merge.at.isoformat(),
            merge.from_id,
            merge.into_id,
            merge.message_id,
            ", ".join(str(i) for i in merge.identifiers),
        )
    console.print(table)


@profiles_app.command("unmerge")
def profiles_unmerge(
    ctx: typer.Context,
    merge_id: Annotated[int, typer.Argument(help="The merge id from `profiles merge-history`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Split a profile along a recorded merge; the two are never merged again."""
    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.store.identity_sql import SqlIdentityGraph

    graph = SqlIdentityGraph(open_state(_settings(ctx, state_only=True)))
    split, kept = graph.unmerge(DEFAULT_WORKSPACE_ID, merge_id)
    if as_json:
        print(json.dumps({"merge_id": merge_id, "profile_id": split, "split_from": kept}))
    else:
        console.print(f"profile [bold]{split}[/] is split from [bold]{kept}[/] again")


suppressions_app = typer.Typer(
    no_args_is_help=True, help="Suppressed people (a SUPPRESS_ONLY regulation; see `regulations`)."
)
app.add_typer(suppressions_app, name="suppressions")
_SUBJECTS = {"user_id": "USER_ID", "anonymous_id": "ANONYMOUS_ID", "email": "EMAIL"}


@suppressions_app.command("add")
def suppressions_add(
    ctx: typer.Context,
    identifier: Annotated[str, typer.Argument(help="type:value, e.g. email:a@b.com.")],
) -> None:
    """Suppress a person: from now on their messages (by any of their ids) are dropped. The
    same as `seamline regulations create --type SUPPRESS_ONLY`."""
    from seamline.cli.regulations import create_regulation

    id_type, _, value = identifier.partition(":")
    if id_type not in _SUBJECTS or not value:
        raise InvalidInput(
            f"identifier {identifier!r} must be user_id:…, anonymous_id:… or email:…"
        )
    body = {
        "regulationType": "SUPPRESS_ONLY",
        "subjectType": _SUBJECTS[id_type],
        "subjectIds": [value],
    }
    regulation = create_regulation(_settings(ctx), body)
    console.print(f"suppressed {id_type}:{value} and every id of theirs ({regulation.id})")


@suppressions_app.command("list")
def suppressions_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How many identifiers are suppressed. They are kept as keyed digests, so the list names
    nobody; `seamline regulations list` shows who asked for what, and when."""
    from seamline.collect.sources import DEFAULT_WORKSPACE_ID
    from seamline.data_dir import open_state
    from seamline.store.suppressions_sql import SqlSuppressionList

    found = SqlSuppressionList(open_state(_settings(ctx, state_only=True))).digests(
        DEFAULT_WORKSPACE_ID
    )
    counts = {source or "*": len(digests) for source, digests in sorted(found.items())}
    if as_json:
        print(json.dumps(counts))
        return
    if not counts:
        console.print("nobody is suppressed")
    for source, count in counts.items():
        where = "every source" if source == "*" else f"source {source}"
        console.print(f"{count} identifiers suppressed at {where}")


register_protocols(app, _settings)
register_audit(app, _settings)
register_destinations(app, _settings)
register_engage(app, _settings)
register_regulations(app, _settings)
register_retention(app, _settings)
register_users(app, _settings)
register_models(app, _settings)
register_identity(app, _settings)
register_webhook_sources(sources_app, _settings)


def main() -> None:
    """Entry point: errors become one line on stderr and exit code 2."""
    os.umask(PRIVATE_UMASK)  # what any command creates in the data directory is 0600/0700
    try:
        app(standalone_mode=True)
    except SeamlineError as exc:
        errors.print(f"[red]error:[/] {exc.message}")
        sys.exit(2)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        errors.print(f"[red]error:[/] invalid setting {where}: {first['msg']}")
        sys.exit(2)
