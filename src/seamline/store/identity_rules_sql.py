"""Each workspace's identity rules, versioned, in the state store (SQLite or PostgreSQL).

A version is saved as a `draft`; re-resolution (ops/identity_reresolve.py) marks it `applying`,
then `activate` makes it `active` in the same transaction that swaps the re-resolved identity
graph in, and the version active before becomes `superseded`. A re-resolution that fails marks
its version `failed` with the error. At most one version of a workspace is active; when none is,
`ensure_active` makes version 1 from the seed (the deprecated `identity_*` settings, else the
defaults), so the pipeline always has rules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from seamline.errors import InvalidInput, NotFound
from seamline.store.state import as_utc, metadata

STATES = ("draft", "applying", "active", "superseded", "failed")
SEEDED_BY = "settings"
"""`created_by` of a version 1 made from the settings (or the defaults)."""

identity_rules = Table(
    "identity_rules",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("document", JSON, nullable=False),
    Column("state", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=True),
    # While `applying`: {phase, done, total}; when `failed`: why.
    Column("progress", JSON, nullable=True),
    Column("error", Text, nullable=True),
)


class RulesVersion(NamedTuple):
    """One saved version of a workspace's identity rules (`document` in canonical form)."""

    version: int
    document: dict[str, Any]
    state: str
    created_at: datetime
    created_by: str
    activated_at: datetime | None


def _version(row: Any) -> RulesVersion:
    return RulesVersion(
        row.version,
        row.document,
        row.state,
        as_utc(row.created_at),
        row.created_by,
        None if row.activated_at is None else as_utc(row.activated_at),
    )


def activate(connection: Connection, workspace_id: str, version: int) -> None:
    """Make `version` the workspace's active rules inside the caller's transaction (the one
    that swaps the re-resolved graph in); the version active before becomes `superseded`."""
    table = identity_rules
    found = connection.execute(
        select(table.c.state).where(
            table.c.workspace_id == workspace_id, table.c.version == version
        )
    ).first()
    if found is None:
        raise NotFound(f"identity rules version {version} does not exist")
    connection.execute(
        update(table)
        .where(table.c.workspace_id == workspace_id, table.c.state == "active")
        .values(state="superseded")
    )
    connection.execute(
        update(table)
        .where(table.c.workspace_id == workspace_id, table.c.version == version)
        .values(state="active", activated_at=datetime.now(UTC), progress=None, error=None)
    )


class SqlIdentityRules:
    """The versions of every workspace's identity rules. `seed()` gives version 1's document
    (canonical) when a workspace has none."""

    def __init__(self, engine: Engine, seed: Callable[[], dict[str, Any]] | None = None) -> None:
        self._engine = self.engine = engine
        self._seed = seed

    def active(self, workspace_id: str) -> RulesVersion | None:
        """The version in force, or None when the workspace has none yet."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(identity_rules).where(
                    identity_rules.c.workspace_id == workspace_id,
                    identity_rules.c.state == "active",
                )
            ).first()
        return None if row is None else _version(row)

    def active_version(self, workspace_id: str) -> int | None:
        """Only the number of the version in force: the pipeline's cheap check for a change."""
        with self._engine.connect() as conn:
            found: int | None = conn.execute(
                select(identity_rules.c.version).where(
                    identity_rules.c.workspace_id == workspace_id,
                    identity_rules.c.state == "active",
                )
            ).scalar()
        return found

    def ensure_active(self, workspace_id: str) -> RulesVersion:
        """The version in force, making version 1 from the seed first when there is none
        (several processes may race here: one insert wins, the others read it)."""
        found = self.active(workspace_id)
        if found is not None:
            return found
        document = self._seed() if self._seed is not None else {}
        now = datetime.now(UTC)
        try:
            with self._engine.begin() as conn:
                if self._newest(conn, workspace_id) == 0:
                    conn.execute(
                        insert(identity_rules).values(
                            workspace_id=workspace_id,
                            version=1,
                            document=document,
                            state="active",
                            created_at=now,
                            created_by=SEEDED_BY,
                            activated_at=now,
                        )
                    )
        except IntegrityError:
            pass  # another process seeded it first
        found = self.active(workspace_id)
        if found is None:
            # Versions exist but none is active (made before seeding existed): the oldest
            # draft would be a guess, so the seed becomes active under a new number.
            with self._engine.begin() as conn:
                version = self._newest(conn, workspace_id) + 1
                conn.execute(
                    insert(identity_rules).values(
                        workspace_id=workspace_id,
                        version=version,
                        document=document,
                        state="draft",
                        created_at=now,
                        created_by=SEEDED_BY,
                    )
                )
                activate(conn, workspace_id, version)
            found = self.active(workspace_id)
        assert found is not None
        return found

    def get(self, workspace_id: str, version: int) -> RulesVersion | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(identity_rules).where(
                    identity_rules.c.workspace_id == workspace_id,
                    identity_rules.c.version == version,
                )
            ).first()
        return None if row is None else _version(row)

    def status(self, workspace_id: str, version: int) -> tuple[dict[str, Any] | None, str | None]:
        """The version's progress while applying ({phase, done, total}) and its error."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(identity_rules.c.progress, identity_rules.c.error).where(
                    identity_rules.c.workspace_id == workspace_id,
                    identity_rules.c.version == version,
                )
            ).first()
        return (None, None) if row is None else (row.progress, row.error)

    def versions(self, workspace_id: str) -> list[RulesVersion]:
        """Every version of the workspace, newest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(identity_rules)
                .where(identity_rules.c.workspace_id == workspace_id)
                .order_by(identity_rules.c.version.desc())
            ).all()
        return [_version(row) for row in rows]

    def save_draft(self, workspace_id: str, document: dict[str, Any], actor: str) -> RulesVersion:
        """Save `document` (canonical) as the next version, a draft. When the newest version
        is already a draft of the same document, that one is returned: saving twice is once."""
        self.ensure_active(workspace_id)
        for _ in range(5):  # two writers may take the same number: the loser tries the next
            try:
                with self._engine.begin() as conn:
                    newest = conn.execute(
                        select(identity_rules)
                        .where(identity_rules.c.workspace_id == workspace_id)
                        .order_by(identity_rules.c.version.desc())
                        .limit(1)
                    ).first()
                    if newest is not None and (newest.state, newest.document) == (
                        "draft",
                        document,
                    ):
                        return _version(newest)
                    version = 1 if newest is None else newest.version + 1
                    now = datetime.now(UTC)
                    conn.execute(
                        insert(identity_rules).values(
                            workspace_id=workspace_id,
                            version=version,
                            document=document,
                            state="draft",
                            created_at=now,
                            created_by=actor[:200],
                        )
                    )
                return RulesVersion(version, document, "draft", now, actor[:200], None)
            except IntegrityError:
                continue
        raise InvalidInput("identity rules are being saved by someone else; try again")

    def mark(
        self, workspace_id: str, version: int, state: str, *, error: str | None = None
    ) -> None:
        """Set the version's state (not `active`: that is `activate`, in a transaction)."""
        if state not in STATES or state == "active":
            raise ValueError(f"mark() sets one of {STATES[:2] + STATES[3:]}, not {state!r}")
        with self._engine.begin() as conn:
            done = conn.execute(
                update(identity_rules)
                .where(
                    identity_rules.c.workspace_id == workspace_id,
                    identity_rules.c.version == version,
                )
                .values(state=state, error=error, progress=None)
            )
        if done.rowcount == 0:
            raise NotFound(f"identity rules version {version} does not exist")

    def record_progress(
        self, workspace_id: str, version: int, phase: str, done: int, total: int
    ) -> None:
        """Note how far the re-resolution under `version` is, for GET /rules/{version}."""
        with self._engine.begin() as conn:
            conn.execute(
                update(identity_rules)
                .where(
                    identity_rules.c.workspace_id == workspace_id,
                    identity_rules.c.version == version,
                )
                .values(progress={"phase": phase, "done": done, "total": total})
            )

    def _newest(self, conn: Connection, workspace_id: str) -> int:
        found = conn.execute(
            select(func.max(identity_rules.c.version)).where(
                identity_rules.c.workspace_id == workspace_id
            )
        ).scalar()
        return int(found or 0)
