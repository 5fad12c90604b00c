"""`seamline users create|list|disable`: the people who sign in to the console.

A password is never printed or logged; `--password-stdin` reads it from standard input, which
keeps it out of the shell's history (`seamline users create … --password-stdin < file`).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from seamline.cli.terminal import make_console
from seamline.errors import InvalidInput
from seamline.ops.users import user_document

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from seamline.store.sources_sql import SqlSourceStore
    from seamline.store.users_sql import SqlUserStore

console = make_console()


def register(app: typer.Typer, settings: Any) -> None:
    """Add `users …` to the command line; `settings(ctx, state_only=True)` gives the settings."""
    users = typer.Typer(no_args_is_help=True, help="Users who sign in to the console.")
    app.add_typer(users, name="users")

    def store(ctx: typer.Context) -> tuple[SqlUserStore, SqlSourceStore, Engine]:
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID
        from seamline.data_dir import open_state
        from seamline.store.sources_sql import SqlSourceStore
        from seamline.store.users_sql import SqlUserStore

        engine = open_state(settings(ctx, state_only=True))
        SqlSourceStore(engine).ensure_workspace(DEFAULT_WORKSPACE_ID, "Default")
        return SqlUserStore(engine), SqlSourceStore(engine), engine

    @users.command("create")
    def create(
        ctx: typer.Context,
        email: Annotated[str, typer.Option("--email", help="The address they sign in with.")],
        role: Annotated[
            list[str],
            typer.Option(
                "--role",
                help="A role (repeatable): workspace-owner, source-admin, … or ROLE:A,B to "
                "scope it to resources A and B.",
            ),
        ],
        password: Annotated[
            str | None,
            typer.Option("--password", help="At least 12 characters (or --password-stdin)."),
        ] = None,
        password_stdin: Annotated[
            bool,
            typer.Option("--password-stdin", help="Read the password from standard input."),
        ] = False,
        pii_access: Annotated[
            bool,
            typer.Option("--pii-access", help="Show PII unmasked (owners always see it)."),
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Create a user of the default workspace (the first one: `--role workspace-owner`)."""
        from seamline.access.users import create_user
        from seamline.cli.audit import cli_recorded
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID

        if password_stdin == (password is not None):
            raise InvalidInput("give the password with exactly one of --password, --password-stdin")
        if password is None:
            password = sys.stdin.readline().rstrip("\r\n")
        user_store, sources, engine = store(ctx)
        known = [(s.id, s.name) for s in sources.list(DEFAULT_WORKSPACE_ID)]
        user = create_user(
            user_store,
            DEFAULT_WORKSPACE_ID,
            email,
            password,
            role,
            pii_access=pii_access,
            sources=known,
        )
        cli_recorded(engine, "user.create", "user", user.id, after=user_document(user))
        if as_json:
            print(json.dumps(user_document(user)))
        else:
            console.print(
                f"user [bold green]{escape(user.email)}[/] ({user.id}) created", highlight=False
            )

    @users.command("list")
    def list_users(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """The default workspace's users: email, roles, PII access, created, disabled."""
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID

        found = store(ctx)[0].in_workspace(DEFAULT_WORKSPACE_ID)
        if as_json:
            print(json.dumps([user_document(u) for u in found]))
            return
        table = Table("email", "id", "roles", "PII", "created", "disabled")
        for user in found:
            shown = user_document(user)
            table.add_row(
                escape(user.email),
                user.id,
                escape(", ".join(shown["roles"])),
                "yes" if user.pii_access else "no",
                shown["created_at"],
                shown["disabled_at"] or "",
            )
        console.print(table)

    @users.command("disable")
    def disable(
        ctx: typer.Context,
        email: Annotated[str, typer.Argument(help="The user's email.")],
    ) -> None:
        """Disable a user: they can no longer sign in, and their sessions end now."""
        from seamline.access.users import disable_user
        from seamline.cli.audit import cli_recorded
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID

        user_store, _, engine = store(ctx)
        user = disable_user(user_store, DEFAULT_WORKSPACE_ID, email)
        cli_recorded(engine, "user.disable", "user", user.id, before=user_document(user))
        console.print(f"disabled user {escape(user.email)} ({user.id})", highlight=False)
