"""Users as the CLI and the management API change them (access/users.py holds the rules for
creating one): what is shown of a user, changing their roles, PII access and whether they may
sign in, and setting a password.

A change that would leave the workspace without an enabled, unscoped workspace owner is
refused: nobody could manage users any more except from the server's shell.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from seamline.access.passwords import check_password, hash_password, verify_password
from seamline.access.permissions import describe
from seamline.access.principal import Grant
from seamline.access.users import User, UserStore, owns_workspace, user_grants
from seamline.errors import InvalidInput, NotFound, Unauthorized


def user_document(user: User) -> dict[str, Any]:
    """A user as shown and audited: never the password or its hash."""
    return {
        "id": user.id,
        "email": user.email,
        "roles": describe(Grant(role=g.role, resources=g.resources) for g in user.grants),
        "pii_access": user.pii_access,
        "created_at": user.created_at.isoformat(),
        "disabled_at": None if user.disabled_at is None else user.disabled_at.isoformat(),
    }


def find_user(store: UserStore, workspace_id: str, user_id: str) -> User:
    """The workspace's user with this id (or email, any case), else NotFound."""
    found = store.by_id(user_id)
    if found is None or found.workspace_id != workspace_id:
        key = user_id.strip().lower()
        found = next((u for u in store.in_workspace(workspace_id) if u.email.lower() == key), None)
    if found is None:
        raise NotFound(f"no user {user_id!r} in this workspace (an id or an email)")
    return found


def change_user(
    store: UserStore,
    user: User,
    *,
    roles: Iterable[str] | None = None,
    pii_access: bool | None = None,
    disabled: bool | None = None,
    sources: Iterable[tuple[str, str]] = (),
) -> User:
    """Apply the given changes to `user` and return them as stored. Roles are written as
    for `users create` (`ROLE` or `ROLE:A,B`); owners always have PII access; disabling ends
    the user's sessions."""
    grants = user.grants if roles is None else user_grants(roles, sources)
    pii = user.pii_access if pii_access is None else pii_access
    pii = pii or owns_workspace(grants)
    off = (user.disabled_at is not None) if disabled is None else disabled
    was_owner = owns_workspace(user.grants) and user.disabled_at is None
    if was_owner and (off or not owns_workspace(grants)):
        others = [u for u in store.in_workspace(user.workspace_id) if u.id != user.id]
        if not any(owns_workspace(u.grants) and u.disabled_at is None for u in others):
            raise InvalidInput(
                f"{user.email} is the workspace's only enabled owner: make another user an "
                "owner first"
            )
    if grants != user.grants or pii != user.pii_access:
        store.set_access(user.id, grants, pii)
    if off and user.disabled_at is None:
        store.disable(user.id, datetime.now(UTC))
    elif not off and user.disabled_at is not None:
        store.enable(user.id)
    changed = store.by_id(user.id)
    assert changed is not None  # users are never deleted
    return changed


def change_password(
    store: UserStore,
    user: User,
    password: str,
    *,
    current: str | None = None,
    keep_session: str | None = None,
) -> None:
    """Give `user` a new password; with `current`, only if it is their password now (a user
    changing their own). Every session of theirs ends but `keep_session`."""
    check_password(password)
    if current is not None:
        stored = store.password_hash(user.id)
        if stored is None or not verify_password(current, stored):
            raise Unauthorized(
                "current_password is not this user's password",
                details={"reason": "wrong_password"},
            )
    store.set_password(user.id, hash_password(password), keep_session)
