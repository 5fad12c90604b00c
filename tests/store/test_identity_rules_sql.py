"""Identity rules versions in the state store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from seamline.errors import NotFound
from seamline.store.identity_rules_sql import SEEDED_BY, SqlIdentityRules, activate

SEED = {"types": {"phone": {"limit": 1}}, "blocked_patterns": [], "custom": []}
OTHER = {"types": {"phone": {"limit": 3}}, "blocked_patterns": [], "custom": []}


def test_version_1_is_seeded_once_and_drafts_follow(engine: Engine) -> None:
    store = SqlIdentityRules(engine, seed=lambda: SEED)
    assert store.active("w") is None and store.active_version("w") is None
    first = store.ensure_active("w")
    assert (first.version, first.state, first.document) == (1, "active", SEED)
    assert first.created_by == SEEDED_BY and first.activated_at is not None
    assert store.ensure_active("w") == first  # seeded once

    draft = store.save_draft("w", OTHER, "user:ann")
    assert (draft.version, draft.state, draft.created_by) == (2, "draft", "user:ann")
    assert store.save_draft("w", OTHER, "user:bob").version == 2  # the same draft again
    assert store.save_draft("w", SEED, "user:ann").version == 3
    assert [v.version for v in store.versions("w")] == [3, 2, 1]
    assert store.active_version("w") == 1  # saving never activates
    assert store.versions("other") == []


def test_activation_supersedes_the_version_in_force(engine: Engine) -> None:
    store = SqlIdentityRules(engine, seed=lambda: SEED)
    draft = store.save_draft("w", OTHER, "user:ann")  # seeds version 1 first
    store.mark("w", draft.version, "applying")
    store.record_progress("w", draft.version, "resolve", 5, 10)
    assert store.status("w", draft.version) == ({"phase": "resolve", "done": 5, "total": 10}, None)
    with engine.begin() as conn:
        activate(conn, "w", draft.version)
    active = store.active("w")
    assert active is not None and (active.version, active.document) == (2, OTHER)
    assert store.status("w", 2) == (None, None)
    old = store.get("w", 1)
    assert old is not None and old.state == "superseded"
    assert [v.state for v in store.versions("w")].count("active") == 1


def test_activation_rolls_back_with_the_callers_transaction(engine: Engine) -> None:
    store = SqlIdentityRules(engine, seed=lambda: SEED)
    draft = store.save_draft("w", OTHER, "user:ann")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        activate(conn, "w", draft.version)
        raise RuntimeError("the swap failed")
    assert store.active_version("w") == 1


def test_a_failed_version_keeps_its_error(engine: Engine) -> None:
    store = SqlIdentityRules(engine, seed=lambda: SEED)
    draft = store.save_draft("w", OTHER, "user:ann")
    store.mark("w", draft.version, "failed", error="disk full")
    found = store.get("w", draft.version)
    assert found is not None and found.state == "failed"
    assert store.status("w", draft.version) == (None, "disk full")
    with pytest.raises(NotFound):
        store.mark("w", 99, "failed")
    with pytest.raises(ValueError, match="not 'active'"):
        store.mark("w", draft.version, "active")
    with pytest.raises(NotFound), engine.begin() as conn:
        activate(conn, "w", 99)
