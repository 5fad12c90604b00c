"""The identity stage resolves with each workspace's active rules version and sees a newly
activated version at the first batch after its next check (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Engine

from seamline.identity.rules import IdentityRules
from seamline.identity.rules_cache import IdentityRulesCache
from seamline.identity.rules_document import normalise_identity, rules_from_document
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.privacy.suppression import SuppressedAtCollect, message_digests
from seamline.store.identity_rules_sql import SqlIdentityRules, activate
from seamline.store.identity_sql import SqlIdentityGraph
from tests.identity.test_resolution import items_of


def track(message_id: str, anonymous_id: str, crm: str) -> dict[str, object]:
    return {
        "id": message_id,
        "type": "track",
        "event": "Visited",
        "anonymousId": anonymous_id,
        "properties": {"crm": crm},
    }


def test_a_new_active_version_is_used_from_the_next_check(engine: Engine) -> None:
    store = SqlIdentityRules(engine, seed=lambda: normalise_identity({}))
    now = [0.0]
    rules_of = IdentityRulesCache(store, check_every=1.0, clock=lambda: now[0])
    graph = SqlIdentityGraph(engine)
    stage = ResolveIdentities(graph, rules_of)

    first = stage(items_of([track("m1", "a1", "c1"), track("m2", "a2", "c1")]))
    assert first[0].profile_id != first[1].profile_id  # crm is no identifier in version 1
    assert rules_of.version("default") == 1

    custom = {"custom": [{"name": "crm", "path": "properties.crm"}]}
    draft = store.save_draft("default", normalise_identity(custom), "user:ann")
    now[0] = 1.0
    after_save = stage(items_of([track("m3", "a3", "c2"), track("m4", "a4", "c2")], 2))
    assert after_save[0].profile_id != after_save[1].profile_id  # a draft changes nothing

    with engine.begin() as conn:
        activate(conn, "default", draft.version)
    now[0] = 1.5
    within = stage(items_of([track("m5", "a5", "c3"), track("m6", "a6", "c3")], 4))
    assert within[0].profile_id != within[1].profile_id  # looked at most once a second
    now[0] = 2.0
    later = stage(items_of([track("m7", "a7", "c4"), track("m8", "a8", "c4")], 6))
    assert later[0].profile_id == later[1].profile_id  # same crm value: one person
    assert rules_of.version("default") == draft.version
    assert [v.state for v in store.versions("default")] == ["active", "superseded"]


def test_suppression_reads_identifiers_with_the_workspace_rules(engine: Engine) -> None:
    custom = {"custom": [{"name": "crm", "path": "properties.crm"}]}
    store = SqlIdentityRules(engine, seed=lambda: normalise_identity(custom))
    salt = b"salt"
    [suppressed, other] = [
        item.envelope.message
        for item in items_of([track("m1", "a1", "c1"), track("m2", "a2", "c1")])
    ]
    digests = frozenset(message_digests(suppressed, rules_from_document(custom), salt))
    listed = {"default": {"": digests}}
    by_workspace = SuppressedAtCollect(lambda: listed, lambda _: salt, IdentityRulesCache(store))
    assert by_workspace("default", "src", [other]) == []  # the same crm: the same person
    by_defaults = SuppressedAtCollect(lambda: listed, lambda _: salt, IdentityRules())
    assert by_defaults("default", "src", [other]) == [other]
