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
from seamline.errors import Conflict, InvalidInput, NotFound
from seamline.store.users_sql import LoginSession, User, UserGrant

__all__ = [
    "LoginSession",
    "User",
    "UserGrant",
    "UserStore",
    "create_user",
    "disable_user",
    "email_key",
    "principal_of_user",
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
    email = check_email(email)
    check_password(password)
    known = list(sources)
    grants = tuple(
        UserGrant(role=g.role, resources=g.resources)
        for g in (with_source_ids(parse_grant(role), known) for role in roles)
    )
    if not grants:
        raise InvalidInput(f"give the user at least one --role (e.g. {WORKSPACE_OWNER})")
    owner = any(g.role == WORKSPACE_OWNER and g.resources is None for g in grants)
    user = User(
        id="usr_" + secrets.token_hex(8),
        workspace_id=workspace_id,
        email=email,
        grants=grants,
        pii_access=pii_access or owner,
        created_at=datetime.now(UTC),
    )
    if store.by_email(workspace_id, email_key(email)) is not None:
        raise Conflict(f"a user with the email {email!r} already exists")
    store.add(user, email_key(email), hash_password(password))
    return user


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
    owner = any(g.role == WORKSPACE_OWNER and g.resources is None for g in grants)
    return Principal(
        kind="user",
        id=user.id,
        name=user.email,
        workspace_id=user.workspace_id,
        grants=grants,
        pii_access=user.pii_access or owner,
    )
