"""Users in the state store: create, list, disable; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from seamline.access.passwords import verify_password
from seamline.access.users import create_user, disable_user, email_key, principal_of_user
from seamline.errors import Conflict, InvalidInput, NotFound
from seamline.store.sources_sql import SqlSourceStore
from seamline.store.users_sql import SqlUserStore, UserGrant

PASSWORD = "a long enough password"


@pytest.fixture
def store(engine: Engine) -> SqlUserStore:
    SqlSourceStore(engine).ensure_workspace("default", "Default")
    return SqlUserStore(engine)


def test_a_user_is_stored_with_a_hash_and_found_by_email_in_any_case(store: SqlUserStore) -> None:
    made = create_user(
        store,
        "default",
        " Ann@Example.com ",
        PASSWORD,
        ["source-admin:web,ios"],
        sources=[("src_1", "Web")],
    )
    assert made.email == "Ann@Example.com" and made.pii_access is False
    found = store.by_email("default", email_key("ann@EXAMPLE.com"))
    assert found is not None
    user, password_hash = found
    assert user == made
    # A source named in a grant is stored by id, as for tokens; other names stay as written.
    assert user.grants == (UserGrant(role="source-admin", resources=("src_1", "ios")),)
    assert PASSWORD not in password_hash and verify_password(PASSWORD, password_hash)
    with pytest.raises(Conflict, match="already exists"):
        create_user(store, "default", "ANN@example.COM", PASSWORD, ["source-read-only"])
    assert [u.email for u in store.in_workspace("default")] == ["Ann@Example.com"]


def test_owners_always_have_pii_access_and_others_only_when_granted(store: SqlUserStore) -> None:
    owner = create_user(store, "default", "o@example.com", PASSWORD, ["workspace-owner"])
    reader = create_user(store, "default", "r@example.com", PASSWORD, ["unify-read-only"])
    trusted = create_user(
        store, "default", "t@example.com", PASSWORD, ["unify-read-only"], pii_access=True
    )
    assert owner.pii_access and principal_of_user(owner).is_owner
    assert not reader.pii_access and not principal_of_user(reader).pii_access
    assert principal_of_user(trusted).pii_access
    assert principal_of_user(reader).kind == "user"
    assert principal_of_user(reader).name == "r@example.com"


@pytest.mark.parametrize(
    ("email", "password", "roles", "complaint"),
    [
        ("not-an-email", PASSWORD, ["workspace-owner"], "is not an email address"),
        ("a@example.com", "short pass", ["workspace-owner"], "at least 12 characters"),
        ("a@example.com", PASSWORD, ["workspace-admin"], "unknown role 'workspace-admin'"),
        ("a@example.com", PASSWORD, [], "at least one --role"),
    ],
)
def test_weak_input_is_refused_and_nothing_is_stored(
    store: SqlUserStore, email: str, password: str, roles: list[str], complaint: str
) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        create_user(store, "default", email, password, roles)
    assert store.in_workspace("default") == []


def test_disabling_a_user_keeps_the_record_and_refuses_twice(store: SqlUserStore) -> None:
    create_user(store, "default", "ann@example.com", PASSWORD, ["workspace-owner"])
    disable_user(store, "default", "ANN@example.com")
    [user] = store.in_workspace("default")
    assert user.disabled_at is not None
    with pytest.raises(InvalidInput, match="already disabled"):
        disable_user(store, "default", "ann@example.com")
    with pytest.raises(NotFound, match="no user with the email"):
        disable_user(store, "default", "bob@example.com")
