"""Access tokens in the state store: create, list, revoke, last use; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text

from seamline.access.principal import WORKSPACE_OWNER, Grant
from seamline.access.tokens import authenticate, create_token, revoke_token
from seamline.errors import Conflict, InvalidInput, NotFound
from seamline.store.sources_sql import SqlSourceStore
from seamline.store.state import open_state_store
from seamline.store.tokens_sql import SqlTokenStore

OWNER = Grant(role=WORKSPACE_OWNER)


@pytest.fixture
def store(engine: Engine) -> SqlTokenStore:
    SqlSourceStore(engine).ensure_workspace("default", "Default")
    return SqlTokenStore(engine)


def test_a_revoked_token_no_longer_authenticates_and_stays_listed(store: SqlTokenStore) -> None:
    ops, ops_secret = create_token(store, "default", "ops")
    _, ci_secret = create_token(store, "default", "ci")
    assert authenticate(store, ops_secret) == ops
    [revoked] = revoke_token(store, "default", "ops")
    assert revoked.id == ops.id
    assert authenticate(store, ops_secret) is None
    assert authenticate(store, ci_secret) is not None
    listed = {t.name: t for t in store.in_workspace("default")}
    assert set(listed) == {"ops", "ci"}
    assert listed["ops"].revoked_at is not None and listed["ci"].revoked_at is None
    assert listed["ci"].last_used_at is not None  # recorded when it authenticated
    assert all(t.grants == (OWNER,) and t.pii_access for t in listed.values())


def test_revoking_refuses_unknown_and_already_revoked_names(store: SqlTokenStore) -> None:
    create_token(store, "default", "ops")
    with pytest.raises(NotFound, match="no token named 'nope'"):
        revoke_token(store, "default", "nope")
    revoke_token(store, "default", "ops")
    with pytest.raises(InvalidInput, match="already revoked"):
        revoke_token(store, "default", "ops")


def test_an_active_name_is_taken_until_revoked(store: SqlTokenStore) -> None:
    create_token(store, "default", "ops")
    with pytest.raises(Conflict, match="already exists"):
        create_token(store, "default", "ops")
    revoke_token(store, "default", "ops")
    again, secret = create_token(store, "default", "ops")
    assert authenticate(store, secret) == again


def test_tokens_from_before_roles_are_owners_with_pii_access(bare_state_url: str) -> None:
    state_url = bare_state_url
    old = create_engine(state_url)
    config = Config()
    config.set_main_option("script_location", "seamline.store:migrations")
    with old.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    SqlSourceStore(old).ensure_workspace("default", "Default")
    with old.begin() as conn:
        conn.execute(  # the columns a token had at 0005
            text(
                "INSERT INTO tokens (id, workspace_id, name, digest, created_at) "
                "VALUES ('tok_old', 'default', 'old', :digest, :at)"
            ),
            {"digest": "d" * 64, "at": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    old.dispose()
    engine = open_state_store(state_url)  # upgrades to the latest migration
    try:
        [token] = SqlTokenStore(engine).in_workspace("default")
        assert (token.name, token.revoked_at) == ("old", None)
        assert token.grants == (OWNER,) and token.pii_access
    finally:
        engine.dispose()
