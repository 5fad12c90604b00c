"""`seamline regulations create|list|show`: the Privacy API from the shell.

A regulation created here is run by the server's pipeline (deletions need it running); a
suppression holds as soon as the command returns.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seamline.cli.audit import cli_recorded
from seamline.cli.terminal import make_console
from seamline.errors import InvalidInput
from seamline.privacy.regulations import ENDED, SUBJECT_TYPES, TYPES, Regulation, audit_document

console = make_console()
WORKSPACE = "default"


def _ops(settings: Any) -> Any:
    """The regulation operations over the data directory's stores (no role: nothing runs)."""
    from seamline.roles.parts import Parts

    return Parts(settings, frozenset())


def create_regulation(settings: Any, body: dict[str, Any], source: str | None = None) -> Regulation:
    """Create a regulation as the operator at the shell, and record it in the audit trail."""
    parts = _ops(settings)
    try:
        regulation: Regulation = parts.regulation_ops.create(
            WORKSPACE, body, source_id=source, actor="cli:cli"
        )
        cli_recorded(
            parts.state,
            "regulation.create",
            "regulation",
            regulation.id,
            after=audit_document(regulation),
        )
    finally:
        parts.close()
    return regulation


def register(app: typer.Typer, settings: Any) -> None:
    group = typer.Typer(
        no_args_is_help=True,
        help="Privacy regulations: suppress, unsuppress or delete a person (the Privacy API).",
    )

    @group.command("create")
    def create(
        ctx: typer.Context,
        subject_ids: Annotated[
            list[str] | None,
            typer.Argument(help="The ids (or use --ids-file).", show_default=False),
        ] = None,
        kind: Annotated[
            str, typer.Option("--type", help=f"One of {', '.join(TYPES)}.", show_default=False)
        ] = "",
        subject_type: Annotated[
            str, typer.Option("--subject-type", help=f"One of {', '.join(SUBJECT_TYPES)}.")
        ] = "USER_ID",
        ids_file: Annotated[
            Path | None, typer.Option("--ids-file", help="A file with one id per line.")
        ] = None,
        source: Annotated[
            str | None, typer.Option("--source", help="Only this source (id or name).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Create a regulation, e.g. `seamline regulations create --type SUPPRESS_WITH_DELETE
        --subject-type EMAIL ann@example.com`."""
        ids = list(subject_ids or [])
        if ids_file is not None:
            try:
                ids += [line.strip() for line in ids_file.read_text().splitlines() if line.strip()]
            except OSError as error:
                raise InvalidInput(f"cannot read --ids-file {ids_file}: {error.strerror}") from None
        if not kind:
            raise InvalidInput(f"--type is required: one of {', '.join(TYPES)}")
        body = {
            "regulationType": kind.upper(),
            "subjectType": subject_type.upper(),
            "subjectIds": ids,
        }
        regulation = create_regulation(settings(ctx), body, source)
        if as_json:
            print(json.dumps(regulation.to_segment()))
            return
        console.print(f"regulation [bold]{regulation.id}[/] {regulation.overall_status}")
        if regulation.overall_status not in ENDED:
            console.print(
                "the running server's pipeline carries it out; follow it with "
                f"`seamline regulations show {regulation.id} --wait`"
            )

    @group.command("list")
    def listing(
        ctx: typer.Context,
        status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """The workspace's regulations, newest first."""
        parts = _ops(settings(ctx))
        try:
            found: list[Regulation] = parts.regulation_ops.list(
                WORKSPACE, status=status.upper() if status else None
            )
        finally:
            parts.close()
        if as_json:
            print(json.dumps([r.to_segment() for r in found]))
            return
        table = Table("id", "type", "subject", "status", "created", "finished")
        for r in found:
            table.add_row(
                r.id,
                r.regulation_type,
                f"{r.subject_count} {r.subject_type}",
                r.overall_status,
                f"{r.created_at:%Y-%m-%d %H:%M:%S}",
                f"{r.finished_at:%Y-%m-%d %H:%M:%S}" if r.finished_at else "",
            )
        console.print(table)

    @group.command("show")
    def show(
        ctx: typer.Context,
        regulation_id: Annotated[str, typer.Argument(help="The regulation's id (reg_…).")],
        wait: Annotated[
            bool, typer.Option("--wait", help="Wait until it has ended (the server runs it).")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """One regulation: its status per store and per destination."""
        parts = _ops(settings(ctx))
        try:
            regulation: Regulation = parts.regulation_ops.get(WORKSPACE, regulation_id)
            if wait and regulation.overall_status not in ENDED:
                with console.status(f"{regulation_id}: waiting for the server's pipeline…"):
                    while regulation.overall_status not in ENDED:
                        time.sleep(0.5)
                        regulation = parts.regulation_ops.get(WORKSPACE, regulation_id)
        finally:
            parts.close()
        if as_json:
            print(json.dumps(regulation.to_segment()))
            return
        console.print(
            f"[bold]{regulation.id}[/] {regulation.regulation_type} of "
            f"{regulation.subject_count} {regulation.subject_type}: {regulation.overall_status}"
        )
        table = Table("target", "status", "attempts", "error", "finished")
        for t in regulation.targets:
            table.add_row(t.name, t.status, str(t.attempts), t.err_string, t.finished_at)
        if regulation.targets:
            console.print(table)

    app.add_typer(group, name="regulations")
