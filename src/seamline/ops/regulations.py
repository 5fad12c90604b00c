"""Creating and reading regulations: what the Privacy API and `seamline regulations` share.

Creating one records it and applies what takes effect at once: a suppression (or its lifting)
is in force when the call returns, so collect drops the person's next message. Deletion is
work for the pipeline process (`ops/erasure.py`), which reports per store and per destination.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from seamline.errors import InvalidInput, NotFound
from seamline.identity.identifiers import Identifier
from seamline.privacy.regulations import (
    ENDED,
    FINISHED,
    STATUSES,
    STORES,
    TYPES,
    UNSUPPRESS,
    Regulation,
    TargetStatus,
    from_row,
    new_regulation,
    to_row,
)
from seamline.privacy.subject import Person
from seamline.privacy.suppression import PROFILE, WORKSPACE_WIDE, digest
from seamline.store.regulations_sql import SqlRegulationStore
from seamline.store.suppressions_sql import SqlSuppressionList

STORE_PREFIX = "seamline:"


class Graph(Protocol):
    def canonical(self, workspace_id: str, identifier: Identifier) -> str | None: ...

    def members(self, canonical_id: str) -> list[str]: ...

    def identifiers_of(self, canonical_id: str) -> list[dict[str, Any]]: ...


def resolve_person(graph: Graph, workspace_id: str, subject: Iterable[Identifier]) -> Person:
    """The whole person behind the subject ids: every identifier of every profile merged with
    theirs, and those profile ids. Ids nobody sent yet stay as given (suppression still holds)."""
    identifiers = set(subject)
    profile_ids: set[str] = set()
    for identifier in list(identifiers):
        canonical = graph.canonical(workspace_id, identifier)
        if canonical is None or canonical in profile_ids:
            continue
        profile_ids.update(graph.members(canonical))
        profile_ids.add(canonical)
        identifiers.update(
            Identifier(str(found["type"]), str(found["value"]))
            for found in graph.identifiers_of(canonical)
        )
    return Person(
        workspace_id=workspace_id,
        identifiers=frozenset(identifiers),
        profile_ids=frozenset(profile_ids),
    )


def person_digests(person: Person, salt: bytes) -> list[str]:
    return [digest(salt, i) for i in person.identifiers] + [
        digest(salt, Identifier(PROFILE, p)) for p in person.profile_ids
    ]


def person_json(person: Person) -> dict[str, Any]:
    return {
        "identifiers": sorted([i.type, i.value] for i in person.identifiers),
        "profile_ids": sorted(person.profile_ids),
    }


def person_of(regulation: Regulation) -> Person | None:
    if regulation.person is None:
        return None
    return Person(
        workspace_id=regulation.workspace_id,
        identifiers=frozenset(Identifier(t, v) for t, v in regulation.person["identifiers"]),
        profile_ids=frozenset(regulation.person["profile_ids"]),
    )


def merge_people(first: Person, second: Person | None) -> Person:
    if second is None:
        return first
    return Person(
        workspace_id=first.workspace_id,
        identifiers=first.identifiers | second.identifiers,
        profile_ids=first.profile_ids | second.profile_ids,
    )


class RegulationOps:
    """`destinations_of(workspace_id)` names the workspace's destination instances as
    (id, display name) pairs; `source_id_of(workspace_id, id_or_name)` finds a source scope's id."""

    def __init__(
        self,
        regulations: SqlRegulationStore,
        suppressions: SqlSuppressionList,
        graph: Graph,
        salt_of: Callable[[str], bytes],
        destinations_of: Callable[[str], list[tuple[str, str]]],
        source_id_of: Callable[[str, str], str | None],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.regulations = regulations
        self.suppressions = suppressions
        self._graph = graph
        self._salt_of = salt_of
        self._destinations_of = destinations_of
        self._source_id_of = source_id_of
        self._now = now

    def create(
        self, workspace_id: str, body: Any, *, source_id: str | None = None, actor: str = ""
    ) -> Regulation:
        """Validate, record and apply what takes effect at once; InvalidInput/NotFound change
        nothing."""
        if source_id is not None:
            source_id = self.source_id(workspace_id, source_id)
        regulation = new_regulation(workspace_id, source_id, body, self._now(), actor)
        person = resolve_person(self._graph, workspace_id, regulation.subject())
        digests = person_digests(person, self._salt_of(workspace_id))
        scope = source_id or WORKSPACE_WIDE
        if regulation.deletes:
            regulation.person = person_json(person)
            # One source's regulation erases what came through it; the profile, which the
            # other sources feed too, stays (a workspace regulation deletes the person).
            stores = [s for s in STORES if source_id is None or s != "state-store"]
            regulation.targets = [
                TargetStatus(id=STORE_PREFIX + store, name=f"Seamline {store}") for store in stores
            ]
            if regulation.in_destinations:
                regulation.targets += [
                    TargetStatus(id=instance_id, name=name)
                    for instance_id, name in self._destinations_of(workspace_id)
                ]
        else:
            regulation.overall_status = FINISHED
            regulation.finished_at = regulation.created_at
        if regulation.suppresses:
            self.suppressions.suppress(
                workspace_id, digests, source_id=scope, regulation_id=regulation.id
            )
        elif regulation.regulation_type == UNSUPPRESS:
            self.suppressions.unsuppress(workspace_id, digests, source_id=scope)
        self.regulations.add(to_row(regulation))
        return regulation

    def source_id(self, workspace_id: str, id_or_name: str) -> str:
        found = self._source_id_of(workspace_id, id_or_name)
        if found is None:
            raise NotFound(
                f"no source {id_or_name!r} in this workspace (see `seamline sources list`)"
            )
        return found

    def get(self, workspace_id: str, regulation_id: str) -> Regulation:
        found = self.regulations.get(workspace_id, regulation_id)
        if found is None:
            raise NotFound(f"no regulation {regulation_id!r} in this workspace")
        return from_row(found)

    def list(
        self,
        workspace_id: str,
        *,
        source_id: str | None = None,
        status: str | None = None,
        types: list[str] | None = None,
        count: int = 100,
    ) -> list[Regulation]:
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
        for kind in types or []:
            if kind not in TYPES:
                raise InvalidInput(f"regulationTypes: {kind!r} is not one of {', '.join(TYPES)}")
        if not 1 <= count <= 1000:
            raise InvalidInput("count must be between 1 and 1000")
        rows = self.regulations.list(
            workspace_id, source_id=source_id, status=status, types=types, limit=count
        )
        return [from_row(row) for row in rows]

    def save(self, regulation: Regulation) -> None:
        self.regulations.save(to_row(regulation))

    def claim(self, hold: timedelta) -> Regulation | None:
        found = self.regulations.claim(self._now(), hold, ENDED)
        return None if found is None else from_row(found)

    def suppression_digest(self, workspace_id: str, id_type: str, value: str) -> str:
        return digest(self._salt_of(workspace_id), Identifier(id_type, value))
