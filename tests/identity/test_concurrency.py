"""Pipeline workers resolving the same people at once end as one worker alone would (PostgreSQL).

The races are forced: each resolution pauses after reading the graph until the other has read
it too, unless the other is kept waiting on an advisory lock (the locks under test are what
keep it waiting), so without the locks the lost update happens every time.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from seamline.identity.identifiers import Identifier, identifiers_of
from seamline.identity.resolve import Resolution, WorkingSet
from seamline.identity.rules import IdentifierRule, IdentityRules
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.spec.envelope import Item
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.state import identities, merges, open_state_store, profiles
from tests.identity.test_resolution import items_of


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = open_state_store(postgres_url)
    yield engine
    engine.dispose()


def test_racing_workers_never_split_a_person(engine: Engine) -> None:
    # Worker A sees the web visitor log in; worker B sees the same person's app session log
    # in, at the same time. Both name user_id:rae, so exactly one profile may hold it.
    rounds = 25
    for n in range(rounds):
        web = items_of(
            [{"id": f"w{n}", "type": "identify", "anonymousId": f"web-{n}", "userId": f"rae-{n}"}]
        )
        app = items_of(
            [{"id": f"a{n}", "type": "identify", "anonymousId": f"app-{n}", "userId": f"rae-{n}"}],
            first_offset=1,
        )
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def work(
            batch: list, barrier: threading.Barrier = barrier, errors: list[BaseException] = errors
        ) -> None:
            stage = ResolveIdentities(SqlIdentityGraph(engine), IdentityRules())
            try:
                barrier.wait()
                stage(batch)
            except BaseException as exc:  # reported below, with the round
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(batch,)) for batch in (web, app)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not errors, errors
        graph = SqlIdentityGraph(engine)
        owners = {
            graph.canonical("default", Identifier(t, f"{v}-{n}"))
            for t, v in (("user_id", "rae"), ("anonymous_id", "web"), ("anonymous_id", "app"))
        }
        assert len(owners) == 1, f"round {n}: {owners}"
    with engine.connect() as conn:
        live = conn.execute(
            select(func.count())
            .select_from(profiles)
            .where(profiles.c.canonical_id == profiles.c.id)
        ).scalar_one()
        merged = conn.execute(select(func.count()).select_from(merges)).scalar_one()
    assert live == rounds
    assert merged == 0  # the second worker waited and attached, it never had to merge


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after 30 s"
        time.sleep(0.005)


def waiting_on_a_lock(engine: Engine) -> bool:
    """Whether a session of this test's database waits for an advisory lock."""
    with engine.connect() as conn:
        waiting = conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
            )
        ).scalar_one()
    return bool(waiting)


class Race:
    """Two or more resolutions of one graph, each pausing after its read (see the module)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.graph = SqlIdentityGraph(engine)
        self.loaded: set[str] = set()
        self.done: set[str] = set()

    def resolve(self, found: list[Identifier], message_id: str) -> None:
        """Resolve one message on its own, before the race."""
        self.graph.resolve("default", set(found), IdentityRules(), self._work(found, message_id))

    def run(self, *racers: tuple[str, list[Identifier], Callable[[], None]]) -> None:
        """Resolve each (message id, identifiers, pause) in a thread of its own; `pause` runs
        between reading and writing, each time (a resolution may start again)."""
        errors: list[BaseException] = []

        def racer(message_id: str, found: list[Identifier], pause: Callable[[], None]) -> None:
            try:
                checked = set(found) if len(found) > 1 else set()
                work = self._work(found, message_id, pause)
                self.graph.resolve("default", set(found), IdentityRules(), work, checked)
                self.done.add(message_id)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=racer, args=args) for args in racers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors

    def _work(
        self, found: list[Identifier], message_id: str, pause: Callable[[], None] | None = None
    ) -> Callable[[WorkingSet], Resolution]:
        def work(working: WorkingSet) -> Resolution:
            resolution = working.resolve(found, message_id, datetime.now(UTC), message_id)
            if pause is not None:
                self.loaded.add(message_id)
                pause()
            return resolution

        return work

    def read_by(self, *message_ids: str) -> Callable[[], None]:
        """A pause until the graph was read for each of `message_ids`, or a lock keeps one away."""

        def pause() -> None:
            wait_for(
                lambda: self.loaded.issuperset(message_ids) or waiting_on_a_lock(self.engine),
                f"{message_ids} to read the graph",
            )

        return pause

    def after(self, message_id: str) -> Callable[[], None]:
        """A pause until `message_id` has read the graph and then written it (or waits)."""
        read = self.read_by(message_id)

        def pause() -> None:
            read()
            wait_for(
                lambda: message_id in self.done or waiting_on_a_lock(self.engine),
                f"{message_id} to write",
            )

        return pause

    def person(self, *found: Identifier) -> set[str | None]:
        return {self.graph.canonical("default", identifier) for identifier in found}


A1, A5 = Identifier("anonymous_id", "a1"), Identifier("anonymous_id", "a5")
USER, EMAIL = Identifier("user_id", "u"), Identifier("email", "e@example.com")


def test_two_merges_of_one_profile_at_once_keep_one_person(engine: Engine) -> None:
    # Profiles: P2 {user_id:u} and P3 {email:e} first, then P1 {a1, a5} (the youngest, so
    # both merges fold it into an older one). Worker A sees {a1, u}, worker B {a5, e}: no
    # identifier in common, so only the lock on P1 makes one wait for the other. One after
    # the other they make one person (one user_id, one email: within every limit).
    race = Race(engine)
    race.resolve([USER], "m1")
    race.resolve([EMAIL], "m2")
    race.resolve([A1, A5], "m3")
    race.run(
        ("m4", [A1, USER], race.read_by("m4", "m5")),
        ("m5", [A5, EMAIL], race.read_by("m4", "m5")),
    )
    assert len(race.person(A1, A5, USER, EMAIL)) == 1
    assert_merges_are_whole(engine)


def test_a_merge_into_a_profile_being_merged_away_follows_it(engine: Engine) -> None:
    # C {c} is the oldest, then B {b1, b2}, then A {a}. Worker 1 sees {a, b1}: A merges into
    # B. Worker 2 sees {b2, c}: B merges into C, and writes first. Worker 1 must not leave A
    # pointing at B, which is no longer a person of its own.
    a, c = Identifier("anonymous_id", "a"), Identifier("user_id", "c")
    b1, b2 = Identifier("anonymous_id", "b1"), Identifier("anonymous_id", "b2")
    race = Race(engine)
    race.resolve([c], "m1")
    race.resolve([b1, b2], "m2")
    race.resolve([a], "m3")
    race.run(("m4", [a, b1], race.after("m5")), ("m5", [b2, c], race.read_by("m4")))
    assert len(race.person(a, b1, b2, c)) == 1
    assert_merges_are_whole(engine)


def test_two_new_user_ids_at_once_keep_the_limit_of_one(engine: Engine) -> None:
    # P {a1, a5}. Worker A sees {a1, user_id:u1}, worker B {a5, user_id:u2}: each alone fits
    # the one user_id a profile may hold, both together do not. One after the other, the first
    # user joins P and the second becomes a person of its own.
    u1, u2 = Identifier("user_id", "u1"), Identifier("user_id", "u2")
    race = Race(engine)
    race.resolve([A1, A5], "m1")
    race.run(
        ("m2", [A1, u1], race.read_by("m2", "m3")),
        ("m3", [A5, u2], race.read_by("m2", "m3")),
    )
    assert race.person(A1) == race.person(A5)
    assert len(race.person(A1, u1, u2)) == 2


# No limits: then the people are the connected components of the messages' identifiers,
# whatever order the messages are resolved in.
UNLIMITED = IdentityRules(
    {
        "user_id": IdentifierRule(priority=1),
        "email": IdentifierRule(priority=2),
        "anonymous_id": IdentifierRule(priority=3),
    }
)


def random_messages(rng: random.Random, prefix: str, count: int) -> list[dict[str, Any]]:
    """`identify` calls naming one to three of a small pool of identifiers each."""
    out: list[dict[str, Any]] = []
    for n in range(count):
        message: dict[str, Any] = {"id": f"{prefix}m{n}", "type": "identify"}
        fields = rng.choice([["a"], ["u"], ["a", "u"], ["a", "e"], ["u", "e"], ["a", "u", "e"]])
        if "u" in fields:
            message["userId"] = f"{prefix}u{rng.randrange(5)}"
        if "e" in fields:
            message["traits"] = {"email": f"{prefix}e{rng.randrange(5)}@example.com"}
        if "a" in fields:
            message["anonymousId"] = f"{prefix}a{rng.randrange(8)}"
        out.append(message)
    return out


def people(engine: Engine, prefix: str) -> set[frozenset[str]]:
    """The identifiers starting with `prefix`, grouped by the person that holds them."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(identities.c.type, identities.c.value, profiles.c.canonical_id)
            .join(profiles, profiles.c.id == identities.c.profile_id)
            .where(identities.c.value.startswith(prefix))
        )
        groups: dict[str, set[str]] = {}
        for id_type, value, person in rows:
            groups.setdefault(person, set()).add(f"{id_type}:{value}")
    return {frozenset(group) for group in groups.values()}


def components(batches: list[list[Item]]) -> set[frozenset[str]]:
    """People as one worker would make them without limits: linked identifiers, joined."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for batch in batches:
        for item in batch:
            found = [str(i) for i in identifiers_of(item.envelope.message, UNLIMITED)]
            for other in found[1:]:
                parent[root(other)] = root(found[0])
            root(found[0])
    groups: dict[str, set[str]] = {}
    for identifier in parent:
        groups.setdefault(root(identifier), set()).add(identifier)
    return {frozenset(group) for group in groups.values()}


def assert_merges_are_whole(engine: Engine) -> None:
    """Every profile names a person that is itself a person, along its merges, each merge once."""
    person = profiles.alias("person")
    into = profiles.alias("into")
    with engine.connect() as conn:
        stale = conn.execute(
            select(profiles.c.id, person.c.id, person.c.canonical_id)
            .join(person, person.c.id == profiles.c.canonical_id)
            .where(person.c.canonical_id != person.c.id)
        ).all()
        astray = conn.execute(
            select(profiles.c.id, profiles.c.canonical_id, into.c.id, into.c.canonical_id)
            .join(into, into.c.id == profiles.c.merged_into)
            .where(into.c.canonical_id != profiles.c.canonical_id)
        ).all()
        merged_away = conn.execute(
            select(func.count())
            .select_from(profiles)
            .where(profiles.c.canonical_id != profiles.c.id)
        ).scalar_one()
        merged = conn.execute(select(func.count()).select_from(merges)).scalar_one()
    assert stale == [], "profiles pointing at a merged-away profile"
    assert astray == [], "profiles not in the person they were merged into"
    assert merged == merged_away, "each merged-away profile merged once"


@pytest.mark.parametrize("workers", [2, 4])
def test_many_concurrent_merges_make_the_people_one_worker_makes(
    engine: Engine, tmp_path: Path, workers: int
) -> None:
    # Each round, `workers` threads resolve two batches of two messages each over a pool of 18
    # identifiers, all at once. The same batches through one worker, on SQLite, make the same
    # people; so does joining linked identifiers by hand.
    rng = random.Random(f"identity-race-{workers}")
    alone = open_state_store(f"sqlite:///{tmp_path}/alone.db")
    rounds = 15
    try:
        for n in range(rounds):
            prefix = f"r{n}-"
            messages = random_messages(rng, prefix, workers * 4)
            batches = [
                items_of(messages[i : i + 2], first_offset=i) for i in range(0, len(messages), 2)
            ]
            start = threading.Barrier(workers)
            errors: list[BaseException] = []

            def work(
                mine: list[list[Item]],
                start: threading.Barrier = start,
                errors: list[BaseException] = errors,
            ) -> None:
                stage = ResolveIdentities(SqlIdentityGraph(engine), UNLIMITED)
                try:
                    start.wait(30)
                    for batch in mine:
                        stage(batch)
                except BaseException as exc:  # a deadlock among them: reported below
                    errors.append(exc)

            threads = [
                threading.Thread(target=work, args=(batches[w::workers],)) for w in range(workers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert not errors, f"round {n}: {errors}"
            one_worker = ResolveIdentities(SqlIdentityGraph(alone), UNLIMITED)
            for batch in batches:
                one_worker(batch)
            expected = components(batches)
            assert people(alone, prefix) == expected, f"round {n}, one worker"
            assert people(engine, prefix) == expected, f"round {n}, {workers} workers"
    finally:
        alone.dispose()
    assert_merges_are_whole(engine)
    with engine.connect() as conn:
        live = conn.execute(
            select(func.count())
            .select_from(profiles)
            .where(profiles.c.canonical_id == profiles.c.id)
        ).scalar_one()
    assert live == sum(len(people(engine, f"r{n}-")) for n in range(rounds))


MESSAGES = 20_000


def test_a_batch_of_thousands_of_identifiers_resolves_within_the_lock_table(
    engine: Engine, tmp_path: Path
) -> None:
    """20,000 messages with two identifiers each (40,000 locks and their profiles') run out of
    PostgreSQL's shared lock table (`out of shared memory`): the stage resolves them in parts
    of a bounded size, in order, with the outcome of one transaction (SQLite, unbounded)."""
    messages = [
        {"id": f"m{n}", "type": "identify", "anonymousId": f"anon-{n}", "userId": f"u{n // 3}"}
        for n in range(MESSAGES)
    ]
    alone = open_state_store(f"sqlite:///{tmp_path / 'alone.db'}")
    try:
        people: list[dict[str, str | None]] = []
        for target in (engine, alone):
            graph = SqlIdentityGraph(target)
            ResolveIdentities(graph, UNLIMITED)(items_of(messages))
            people.append(
                {
                    m["anonymousId"]: graph.canonical("default", Identifier("user_id", m["userId"]))
                    for m in messages
                }
            )
        on_postgres, on_sqlite = people
        assert len(set(on_postgres.values())) == len(set(on_sqlite.values())) == MESSAGES // 3 + 1
        # Each person's three devices share one profile on both, whatever the parts.
        for n in range(0, MESSAGES, 3):
            devices = [f"anon-{k}" for k in range(n, min(n + 3, MESSAGES))]
            assert len({on_postgres[d] for d in devices}) == 1
    finally:
        alone.dispose()


@pytest.mark.parametrize("bound", [None, 1, 2, 3, 7])
def test_parts_are_consecutive_and_within_the_bound(bound: int | None) -> None:
    from seamline.pipeline.identity_stage import _parts

    rng = random.Random(bound)
    messages = [
        (n, [Identifier("anonymous_id", f"a{rng.randrange(6)}"), Identifier("user_id", f"u{n}")])
        for n in range(40)
    ]
    parts = _parts(messages, bound)
    assert [entry for part in parts for entry in part] == messages
    for part in parts:
        distinct = {identifier for _, found in part for identifier in found}
        assert bound is None or len(distinct) <= max(bound, 2)  # one message always fits
