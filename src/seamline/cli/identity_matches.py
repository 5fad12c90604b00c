"""`seamline identity proposals list|accept|reject` and `seamline identity match`: review
probabilistic matching's proposals and run matching now, from the shell (the same operations
as `/api/v1/identity/proposals` and `/api/v1/identity/matching/run`)."""

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


def register(identity: typer.Typer, settings: Any) -> None:
    """Add `proposals` and `match` to the `identity` command group."""
    group = typer.Typer(
        no_args_is_help=True, help="Probabilistic matching's proposals: list, accept, reject."
    )
    identity.add_typer(group, name="proposals")

    @group.command("list")
    def list_(
        ctx: typer.Context,
        status: Annotated[
            str, typer.Option(help="pending, merged, rejected or superseded; 'all' for every one.")
        ] = "pending",
        limit: Annotated[int, typer.Option(help="How many, oldest first (at most 1000).")] = 50,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Proposals with their probability and the evidence behind them."""
        from seamline.data_dir import open_state
        from seamline.store.identity_matches_sql import STATUSES, SqlIdentityMatches

        if status != "all" and status not in STATUSES:
            raise InvalidInput(f"--status must be one of {', '.join(STATUSES)} or all")
        engine = open_state(settings(ctx, state_only=True))
        try:
            found, _ = SqlIdentityMatches(engine).page(
                WORKSPACE, None if status == "all" else status, max(1, min(limit, 1000)), None
            )
        finally:
            engine.dispose()
        if as_json:
            print(json.dumps([p.as_json() for p in found]))
            return
        table = Table("id", "status", "probability", "left", "right", "evidence")
        for p in found:
            evidence = "; ".join(
                f"{c['field']}: {c['level']}" for c in p.comparisons if c.get("level") != "null"
            )
            table.add_row(
                str(p.id),
                p.status,
                f"{p.probability:.6f}",
                p.left_profile,
                p.right_profile,
                evidence,
            )
        console.print(table)

    @group.command("accept")
    def accept(
        ctx: typer.Context,
        proposal_id: Annotated[int, typer.Argument(help="The proposal's id.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Merge the proposal's two profiles (a `manual` merge with the proposal's score)."""
        from seamline.ops import identity_proposals
        from seamline.roles.identity_matching import matching_job
        from seamline.roles.parts import Parts

        parts = Parts(settings(ctx), frozenset())
        try:
            rules = matching_job(parts).rules(WORKSPACE)
            done = identity_proposals.accept(parts.state, rules, WORKSPACE, proposal_id, "cli")
            cli_recorded(
                parts.state, "proposal.accept", "identity_proposal", str(proposal_id), after=done
            )
        finally:
            parts.close()
        if as_json:
            print(json.dumps(done))
        else:
            console.print(f"proposal {proposal_id} accepted: merge {done['merge_id']}")

    @group.command("reject")
    def reject(
        ctx: typer.Context,
        proposal_id: Annotated[int, typer.Argument(help="The proposal's id.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Keep the two profiles apart: matching never proposes them again."""
        from seamline.data_dir import open_state
        from seamline.ops import identity_proposals

        engine = open_state(settings(ctx, state_only=True))
        try:
            done = identity_proposals.reject(engine, WORKSPACE, proposal_id, "cli")
            cli_recorded(
                engine, "proposal.reject", "identity_proposal", str(proposal_id), after=done
            )
        finally:
            engine.dispose()
        if as_json:
            print(json.dumps(done))
        else:
            console.print(f"proposal {proposal_id} rejected")

    @identity.command("match")
    def match(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Run probabilistic matching now and wait for it: proposals, and merges at or above
        the threshold. Exits 2 when matching is off or the run fails."""
        from seamline.roles.identity_matching import matching_job
        from seamline.roles.parts import Parts

        parts = Parts(settings(ctx), frozenset())
        try:
            with console.status("matching…"):
                outcome = matching_job(parts).run_once(WORKSPACE)
            cli_recorded(parts.state, "matching.run", "identity_matching", "run", after=outcome)
        finally:
            parts.close()
        if as_json:
            print(json.dumps(outcome))
        if outcome["status"] == "disabled":
            raise InvalidInput(
                "matching is off: set `matching: {enabled: true}` in the identity rules"
            )
        if outcome["status"] != "FINISHED":
            raise InvalidInput(
                f"matching did not finish: {outcome.get('error', outcome['status'])}"
            )
        if not as_json:
            console.print(
                f"{outcome['people']} people, {outcome['changed']} changed: "
                f"{outcome['proposed']} proposed, {outcome['merged']} merged"
            )
