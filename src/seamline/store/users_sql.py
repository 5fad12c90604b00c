"""Users, their login sessions and failed login attempts in the state store.

The records are defined here, below the domain (access/users.py and access/sessions.py hold
the rules and re-export them), so the store imports nothing above it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Engine, delete, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError

from seamline.errors import Conflict
from seamline.store.state import as_utc, login_attempts, user_sessions, users, workspaces


class UserGrant(msgspec.Struct, frozen=True, kw_only=True):
    """A role as stored; `resources` None: every resource of the workspace."""

    role: str
    resources: tuple[str, ...] | None = None


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user's record (never the password's hash)."""

    id: str
    workspace_id: str
    email: str
    grants: tuple[UserGrant, ...]
    pii_access: bool
    created_at: datetime
    disabled_at: datetime | None = None


class LoginSession(msgspec.Struct, frozen=True, kw_only=True):
    """A console login; `id` is the digest of the cookie's secret, never the secret itself."""

    id: str
    user_id: str
    csrf_digest: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime


class SqlUserStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- users ---------------------------------------------------------------------------

    def add(self, user: User, email_key: str, password_hash: str) -> None:
        """Store a new user; Conflict when the workspace has that email already (any case)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(users).values(
                        id=user.id,
                        workspace_id=user.workspace_id,
                        email=user.email,
                        email_key=email_key,
                        password_hash=password_hash,
                        grants=[msgspec.to_builtins(g) for g in user.grants],
                        pii_access=user.pii_access,
                        created_at=user.created_at,
                    )
                )
        except IntegrityError:
            raise Conflict(f"a user with the email {user.email!r} already exists") from None

    def by_email(self, workspace_id: str, email_key: str) -> tuple[User, str] | None:
        """The user with this (lower-case) email and their password hash."""
        query = select(users).where(
            users.c.workspace_id == workspace_id, users.c.email_key == email_key
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else (_user(row), row.password_hash)

    def by_id(self, user_id: str) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else _user(row)

    def in_workspace(self, workspace_id: str) -> list[User]:
        """The workspace's users, disabled ones included, oldest first."""
        query = (
            select(users)
            .where(users.c.workspace_id == workspace_id)
            .order_by(users.c.created_at, users.c.id)
        )
        with self._engine.connect() as conn:
            return [_user(row) for row in conn.execute(query)]

    def disable(self, user_id: str, at: datetime) -> None:
        """Disable the user and end every session of theirs, in one transaction."""
        with self._engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user_id, users.c.disabled_at.is_(None))
                .values(disabled_at=at)
            )
            conn.execute(delete(user_sessions).where(user_sessions.c.user_id == user_id))

    def add_first(self, user: User, email_key: str, password_hash: str) -> bool:
        """Store `user` only if its workspace has no user yet; whether it was stored. Two
        concurrent calls store one user at most: the workspace row is locked first on
        PostgreSQL, and the insert is one statement conditional on the table being empty (a
        second SQLite writer waits for the first, then finds a user)."""
        row = {
            "id": user.id,
            "workspace_id": user.workspace_id,
            "email": user.email,
            "email_key": email_key,
            "password_hash": password_hash,
            "grants": [msgspec.to_builtins(g) for g in user.grants],
            "pii_access": user.pii_access,
            "created_at": user.created_at,
        }
        nobody = ~exists().where(users.c.workspace_id == user.workspace_id)
        values = select(*(literal(v, users.c[k].type).label(k) for k, v in row.items()))
        with self._engine.begin() as conn:
            conn.execute(
                select(workspaces.c.id)
                .where(workspaces.c.id == user.workspace_id)
                .with_for_update()
            )
            # RETURNING, not rowcount: psycopg reports no count for INSERT … SELECT here.
            statement = insert(users).from_select(list(row), values.where(nobody))
            stored = conn.execute(statement.returning(users.c.id)).first()
        return stored is not None

    def set_access(self, user_id: str, grants: tuple[UserGrant, ...], pii_access: bool) -> None:
        """Replace the user's grants and PII flag (their sessions see it at the next request)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(grants=[msgspec.to_builtins(g) for g in grants], pii_access=pii_access)
            )

    def enable(self, user_id: str) -> None:
        """Let a disabled user sign in again (their old sessions stay ended)."""
        with self._engine.begin() as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(disabled_at=None))

    def password_hash(self, user_id: str) -> str | None:
        with self._engine.connect() as conn:
            found = conn.execute(select(users.c.password_hash).where(users.c.id == user_id))
            return found.scalar()

    def set_password(self, user_id: str, password_hash: str, keep_session: str | None) -> None:
        """A new password hash; every session of the user ends but `keep_session` (the one
        that changed it), in one transaction."""
        with self._engine.begin() as conn:
            conn.execute(
                update(users).where(users.c.id == user_id).values(password_hash=password_hash)
            )
            ending = delete(user_sessions).where(user_sessions.c.user_id == user_id)
            if keep_session is not None:
                ending = ending.where(user_sessions.c.id != keep_session)
            conn.execute(ending)

    # --- sessions --------------------------------------------------------------------------

    def add_session(self, session: LoginSession) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(user_sessions).values(**msgspec.structs.asdict(session)))

    def session(self, session_id: str) -> LoginSession | None:
        query = select(user_sessions).where(user_sessions.c.id == session_id)
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return LoginSession(
            id=row.id,
            user_id=row.user_id,
            csrf_digest=row.csrf_digest,
            created_at=as_utc(row.created_at),
            expires_at=as_utc(row.expires_at),
            last_seen_at=as_utc(row.last_seen_at),
        )

    def touch_session(self, session_id: str, at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(user_sessions)
                .where(user_sessions.c.id == session_id)
                .values(last_seen_at=at)
            )

    def end_session(self, session_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(user_sessions).where(user_sessions.c.id == session_id))

    def end_expired_sessions(self, idle_before: datetime, now: datetime) -> int:
        """Delete sessions idle since `idle_before` or earlier, or past their expiry; how many."""
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(user_sessions).where(
                    (user_sessions.c.last_seen_at <= idle_before)
                    | (user_sessions.c.expires_at <= now)
                )
            )
        return gone.rowcount

    # --- failed logins ---------------------------------------------------------------------

    def record_failure(
        self, workspace_id: str, email_key: str, client_ip: str, at: datetime
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(login_attempts).values(
                    workspace_id=workspace_id,
                    email_key=email_key,
                    client_ip=client_ip,
                    attempted_at=at,
                )
            )

    def failures_since(
        self, workspace_id: str, email_key: str, client_ip: str, since: datetime
    ) -> tuple[list[datetime], list[datetime]]:
        """When the failed logins after `since` were, for this email and for this client IP,
        each oldest first."""
        recent = login_attempts.c.attempted_at > since
        by_email = select(login_attempts.c.attempted_at).where(
            recent,
            login_attempts.c.workspace_id == workspace_id,
            login_attempts.c.email_key == email_key,
        )
        by_ip = select(login_attempts.c.attempted_at).where(
            recent, login_attempts.c.client_ip == client_ip
        )
        with self._engine.connect() as conn:
            email_times = [
                as_utc(t) for t in conn.execute(by_email.order_by("attempted_at")).scalars()
            ]
            ip_times = [as_utc(t) for t in conn.execute(by_ip.order_by("attempted_at")).scalars()]
        return email_times, ip_times

    def forget_failures(self, workspace_id: str, email_key: str, before: datetime) -> None:
        """Drop this email's failures (a successful login) and everyone's older than `before`
        (out of every window: the table stays small)."""
        with self._engine.begin() as conn:
            conn.execute(
                delete(login_attempts).where(
                    (
                        (login_attempts.c.workspace_id == workspace_id)
                        & (login_attempts.c.email_key == email_key)
                    )
                    | (login_attempts.c.attempted_at < before)
                )
            )

    def count_sessions(self, user_id: str) -> int:
        query = select(func.count()).where(user_sessions.c.user_id == user_id)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def _user(row: Any) -> User:
    return User(
        id=row.id,
        workspace_id=row.workspace_id,
        email=row.email,
        grants=tuple(
            UserGrant(
                role=g["role"],
                resources=None if g.get("resources") is None else tuple(g["resources"]),
            )
            for g in row.grants
        ),
        pii_access=bool(row.pii_access),
        created_at=as_utc(row.created_at),
        disabled_at=None if row.disabled_at is None else as_utc(row.disabled_at),
    )
