"""Users of the console: an email, a password (hashed, access/passwords.py), role grants and
the PII flag. Owners always see PII.

Emails are unique per workspace whatever their case (`Ann@x.com` and `ann@x.com` are one user).
A disabled user keeps their record and can no longer sign in; their sessions end at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from seamline.access.passwords import check_password, hash_password
from seamline.access.permissions import parse_grant, with_source_ids
from seamline.access.principal import WORKSPACE_OWNER, Grant, Principal
from seamline.errors import Conflict, Forbidden, InvalidInput, NotFound
from seamline.store.users_sql import LoginSession, User, UserGrant

__all__ = [
    "LoginSession",
    "User",
    "UserGrant",
    "UserStore",
    "create_first_owner",
    "create_user",
    "disable_user",
    "email_key",
    "owns_workspace",
    "principal_of_user",
    "user_grants",
]

# Deliberately loose (one @, a dot in the domain, no spaces): the address is a login name, not
# something Seamline sends mail to.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 320


class UserStore(Protocol):
    def add(self, user: User, email_key: str, password_hash: str) -> None: ...

    def by_email(self, workspace_id: str, email_key: str) -> tuple[User, str] | None: ...

    def by_id(self, user_id: str) -> User | None: ...

    def in_workspace(self, workspace_id: str) -> list[User]: ...

    def disable(self, user_id: str, at: datetime) -> None: ...

    def add_first(self, user: User, email_key: str, password_hash: str) -> bool:
        """Store `user` only if its workspace has no user yet (atomically); whether it did."""
        ...

    def set_access(self, user_id: str, grants: tuple[UserGrant, ...], pii_access: bool) -> None: ...

    def enable(self, user_id: str) -> None: ...

    def password_hash(self, user_id: str) -> str | None: ...

    def set_password(self, user_id: str, password_hash: str, keep_session: str | None) -> None: ...


def email_key(email: str) -> str:
    """The form emails are compared in: trimmed and lower-case."""
    return email.strip().lower()


def check_email(email: str) -> str:
    """The email trimmed, or InvalidInput saying why it is not one."""
    email = email.strip()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an email address (like ann@example.com)")
    return email


def create_user(
    store: UserStore,
    workspace_id: str,
    email: str,
    password: str,
    roles: Iterable[str],
    *,
    pii_access: bool = False,
    sources: Iterable[tuple[str, str]] = (),
) -> User:
    """Check and store a new user; the password is kept only as a hash. `roles` are written
    as for tokens (`ROLE` or `ROLE:A,B`); source roles name sources by id once stored
    (`sources`: the workspace's (id, name) pairs)."""
    user, password_hash = _new_user(workspace_id, email, password, roles, pii_access, sources)
    if store.by_email(workspace_id, email_key(email)) is not None:
        raise Conflict(f"a user with the email {user.email!r} already exists")
    store.add(user, email_key(email), password_hash)
    return user


def create_first_owner(store: UserStore, workspace_id: str, email: str, password: str) -> User:
    """The workspace's first user, a workspace owner, checked as `create_user` checks one;
    Forbidden when the workspace has a user already (two concurrent calls make one owner)."""
    user, password_hash = _new_user(workspace_id, email, password, [WORKSPACE_OWNER], True, ())
    if not store.add_first(user, email_key(email), password_hash):
        raise Forbidden(
            "the workspace has users already: an owner creates more (POST /api/v1/users), or "
            "run `seamline users create` on the server"
        )
    return user


def _new_user(
    workspace_id: str,
    email: str,
    password: str,
    roles: Iterable[str],
    pii_access: bool,
    sources: Iterable[tuple[str, str]],
) -> tuple[User, str]:
    email = check_email(email)
    check_password(password)
    grants = user_grants(roles, sources)
    user = User(
        id="usr_" + secrets.token_hex(8),
        workspace_id=workspace_id,
        email=email,
        grants=grants,
        pii_access=pii_access or owns_workspace(grants),
        created_at=datetime.now(UTC),
    )
    return user, hash_password(password)


def user_grants(roles: Iterable[str], sources: Iterable[tuple[str, str]]) -> tuple[UserGrant, ...]:
    """Grants from roles written `ROLE` or `ROLE:A,B` (source roles name sources by id once
    stored); InvalidInput on an unknown role or none at all."""
    known = list(sources)
    grants = tuple(
        UserGrant(role=g.role, resources=g.resources)
        for g in (with_source_ids(parse_grant(role), known) for role in roles)
    )
    if not grants:
        raise InvalidInput(f"give the user at least one --role (e.g. {WORKSPACE_OWNER})")
    return grants


def owns_workspace(grants: Iterable[UserGrant | Grant]) -> bool:
    """Whether the grants make a workspace owner (unscoped)."""
    return any(g.role == WORKSPACE_OWNER and g.resources is None for g in grants)


def disable_user(store: UserStore, workspace_id: str, email: str) -> User:
    """Disable the user with this email (any case): no login, and their sessions end now."""
    found = store.by_email(workspace_id, email_key(email))
    if found is None:
        raise NotFound(f"no user with the email {email.strip()!r}; see `seamline users list`")
    user = found[0]
    if user.disabled_at is not None:
        raise InvalidInput(f"the user {user.email!r} is already disabled")
    store.disable(user.id, datetime.now(UTC))
    return user


def principal_of_user(user: User) -> Principal:
    """The actor a signed-in user is: their grants, and PII access if granted or an owner."""
    grants = tuple(Grant(role=g.role, resources=g.resources) for g in user.grants)
    return Principal(
        kind="user",
        id=user.id,
        name=user.email,
        workspace_id=user.workspace_id,
        grants=grants,
        pii_access=user.pii_access or owns_workspace(grants),
    )
