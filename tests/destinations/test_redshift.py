"""Redshift against the embedded PostgreSQL: the statements are Redshift's (no ON CONFLICT,
RETURNING, arrays or advisory locks; they parse as Redshift SQL) and do on PostgreSQL what they
do on Redshift: Segment's tables, schema evolution, idempotent re-delivery through a staging
table, users upserted by received_at, deletion, and clear errors for bad settings."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import sqlglot
from psycopg import sql

from seamline.destinations import registry
from seamline.destinations.catalog.postgres_warehouse.cells import infer
from seamline.destinations.catalog.postgres_warehouse.connections import libpq_url
from seamline.destinations.catalog.redshift import DESTINATION
from seamline.destinations.catalog.redshift.dialect import (
    MAX_PARAMETERS,
    MAX_VARCHAR_BYTES,
    chunks,
    fit_text,
    value_for,
)
from seamline.destinations.catalog.redshift.loader import close
from seamline.destinations.definition import Context
from seamline.destinations.errors import (
    DeliveryError,
    InvalidPayload,
    PermanentError,
    RetryableError,
)
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.test_postgres_warehouse import message, track, with_password

ACTION = DESTINATION.actions["load_events"]
SCHEMA = "web"


@pytest.fixture
def ctx(postgres_url: str) -> Iterator[Context]:
    with httpx.Client() as client:
        context = Context(
            settings={"database_url": postgres_url, "schema": SCHEMA}, http=Http(client)
        )
        yield context
        close(context)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the destination sends, as text (recorded at psycopg's `execute`)."""
    sent: list[str] = []
    execute = psycopg.Connection.execute

    def recording(self: psycopg.Connection[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query.as_string(self) if isinstance(query, sql.Composable) else str(query)
        sent.append(text)
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", recording)
    return sent


def context_for(url: str) -> Context:
    return Context(settings={"database_url": url, "schema": SCHEMA}, http=Http(httpx.Client()))


def load(ctx: Context, *messages: dict[str, Any]) -> list[DeliveryError | None]:
    assert ACTION.perform_batch is not None
    outcomes: list[DeliveryError | None] = ACTION.perform_batch(
        ctx, [{"event": m} for m in messages]
    )
    return outcomes


def query(url: str, text: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(libpq_url(url)) as connection:
        return connection.execute(text, params).fetchall()


def columns(url: str, table: str) -> dict[str, str]:
    found = query(
        url,
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
        SCHEMA,
        table,
    )
    return dict(found)


def row(url: str, table: str, message_id: str) -> dict[str, Any]:
    with (
        psycopg.connect(libpq_url(url)) as connection,
        connection.cursor(row_factory=psycopg.rows.dict_row) as cursor,
    ):
        found = cursor.execute(
            f'SELECT * FROM {SCHEMA}."{table}" WHERE id = %s', (message_id,)
        ).fetchall()
    assert len(found) == 1, f"{table} has {len(found)} rows with id {message_id}"
    return found[0]


def person(user_ids: tuple[str, ...] = (), anonymous_ids: tuple[str, ...] = ()) -> Person:
    found = {Identifier("user_id", v) for v in user_ids}
    found |= {Identifier("anonymous_id", v) for v in anonymous_ids}
    return Person(workspace_id="default", identifiers=frozenset(found), profile_ids=frozenset())


def identify(message_id: str, at: str, user_id: str = "u1", **traits: Any) -> dict[str, Any]:
    return message("identify", message_id, received_at=at, userId=user_id, traits=traits)


# -- without a server -------------------------------------------------------------------------


def test_the_catalog_lists_redshift_with_a_secret_url() -> None:
    assert "redshift" in registry.slugs()
    assert registry.load("redshift") is DESTINATION
    assert DESTINATION.secret_settings() == {"database_url"}
    assert ACTION.max_batch == 500


def test_text_is_cut_to_redshifts_varchar_in_bytes_at_a_character_boundary() -> None:
    assert fit_text("short") == "short"
    cut = fit_text("é" * MAX_VARCHAR_BYTES)  # two bytes each
    assert len(cut.encode()) == MAX_VARCHAR_BYTES - 1
    assert set(cut) == {"é"}


def test_numbers_become_doubles_and_a_number_beyond_range_does_not_fit() -> None:
    assert value_for(infer(12.5), "numeric") == 12.5
    assert value_for(infer("7"), "numeric") == 7.0
    assert value_for(infer(10**400), "numeric") is None
    assert value_for(infer(True), "text") == "true"


def test_inserts_are_split_under_the_statement_and_parameter_limits() -> None:
    narrow = [["x"]] * (MAX_PARAMETERS + 5)
    assert [len(c) for c in chunks(narrow, 1)] == [MAX_PARAMETERS, 5]
    wide = [["y" * 3_000_000]] * 7  # 3 MB each: two per 8 MB statement
    assert [len(c) for c in chunks(wide, 1)] == [2, 2, 2, 1]


# -- loading ----------------------------------------------------------------------------------


def test_a_track_lands_in_tracks_and_its_event_table_with_redshift_types(
    ctx: Context, postgres_url: str
) -> None:
    sent = track("m1", total=30.5, coupon="X", gift=False, shipped="2026-11-29T08:00:00Z")
    assert load(ctx, sent) == [None]
    assert row(postgres_url, "tracks", "m1")["event"] == "order_completed"
    event = row(postgres_url, "order_completed", "m1")
    assert (event["total"], event["coupon"], event["gift"]) == (30.5, "X", False)
    assert event["context_library_name"] == "analytics.js"
    types = columns(postgres_url, "order_completed")
    assert types["total"] == "double precision"
    assert types["coupon"] == "character varying"
    assert types["gift"] == "boolean"
    assert types["shipped"] == "timestamp with time zone"
    assert types["uuid_ts"] == "timestamp with time zone"


def test_the_statements_are_redshifts(ctx: Context, statements: list[str]) -> None:
    load(ctx, track("m1", total=1), identify("i1", "2026-11-29T10:00:00Z", plan="pro"))
    load(ctx, track("m2", total="lots"), identify("i2", "2026-11-29T11:00:00Z", plan=3))
    assert DESTINATION.delete is not None
    DESTINATION.delete(ctx, person(("u1",)))
    text = "\n".join(statements).upper()
    for missing in ("ON CONFLICT", "RETURNING", "ANY(", "ADVISORY", "ADD COLUMN IF", "NOW()"):
        assert missing not in text, missing
    assert 'DELETE FROM "SEAMLINE_STAGE" USING' in text
    assert 'UPDATE "WEB"."USERS" SET' in text
    for statement in statements:
        if statement.startswith("LOCK "):  # Redshift's own form, which sqlglot does not parse
            assert re.fullmatch(r'LOCK "\w+"\."\w+"', statement), statement
        else:
            sqlglot.parse_one(statement.replace("%s", "NULL"), read="redshift")


def test_a_new_property_adds_one_column_and_older_rows_have_null_there(
    ctx: Context, postgres_url: str, statements: list[str]
) -> None:
    load(ctx, track("m1", total=1))
    statements.clear()
    load(ctx, track("m2", total=2, seats=5))
    adds = [s for s in statements if "ADD COLUMN" in s]
    assert adds == ['ALTER TABLE "web"."order_completed" ADD COLUMN "seats" DOUBLE PRECISION']
    assert row(postgres_url, "order_completed", "m1")["seats"] is None
    assert row(postgres_url, "order_completed", "m2")["seats"] == 5.0


def test_a_type_conflict_keeps_the_column_type_and_discards_what_does_not_fit(
    ctx: Context, postgres_url: str
) -> None:
    load(ctx, track("m1", amount=10))
    load(ctx, track("m2", amount="lots"), track("m3", amount="12.5"))
    assert columns(postgres_url, "order_completed")["amount"] == "double precision"
    assert row(postgres_url, "order_completed", "m2")["amount"] is None
    assert row(postgres_url, "order_completed", "m3")["amount"] == 12.5
    kept = f"SELECT table_name, row_id, column_name, value FROM {SCHEMA}.seamline_discards"
    assert query(postgres_url, kept) == [("order_completed", "m2", "amount", "lots")]
    load(ctx, track("m2", amount="lots"))  # re-delivered: kept once
    assert len(query(postgres_url, kept)) == 1


def test_a_redelivered_batch_adds_nothing(ctx: Context, postgres_url: str) -> None:
    batch = [track("m1", total=1), track("m2", total=2), message("page", "p1")]
    load(ctx, *batch)
    before = query(postgres_url, f"SELECT id, uuid_ts FROM {SCHEMA}.tracks ORDER BY id")
    load(ctx, *batch)
    load(ctx, track("m3"), track("m3"))  # twice in one batch
    after = query(postgres_url, f"SELECT id, uuid_ts FROM {SCHEMA}.tracks ORDER BY id")
    assert after[:2] == before
    assert [r[0] for r in after] == ["m1", "m2", "m3"]
    assert query(postgres_url, f"SELECT count(*) FROM {SCHEMA}.pages") == [(1,)]


def test_concurrent_loaders_add_columns_and_rows_without_racing(postgres_url: str) -> None:
    first = context_for(postgres_url)
    load(first, track("w-first"))  # the schema and tables exist
    close(first)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        ctx = context_for(postgres_url)
        try:
            for i in range(3):
                properties: dict[str, Any] = {f"p{n}_{i}": i, "shared": i}
                sent = track(f"w{n}-{i}", **properties)
                load(ctx, sent, track("w-shared"))  # every worker also sends one same message
        except BaseException as error:
            errors.append(error)
        finally:
            close(ctx)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert query(postgres_url, f"SELECT count(*) FROM {SCHEMA}.order_completed") == [(14,)]
    assert len([c for c in columns(postgres_url, "order_completed") if c.startswith("p")]) == 12


def test_users_keep_the_latest_value_of_each_trait(ctx: Context, postgres_url: str) -> None:
    load(
        ctx,
        identify("i2", "2026-11-29T11:00:00Z", plan="pro"),
        identify("i1", "2026-11-29T10:00:00Z", plan="free", email="a@example.com"),
    )
    user = row(postgres_url, "users", "u1")
    assert (user["plan"], user["email"]) == ("pro", "a@example.com")
    load(ctx, identify("i3", "2026-11-29T12:00:00Z", plan="team"))
    load(ctx, identify("i0", "2026-11-29T09:00:00Z", plan="trial", company="Initech"))
    user = row(postgres_url, "users", "u1")
    assert (user["plan"], user["email"], user["company"]) == ("team", "a@example.com", "Initech")
    assert user["received_at"].isoformat() == "2026-11-29T12:00:00+00:00"
    assert query(postgres_url, f"SELECT count(*) FROM {SCHEMA}.users") == [(1,)]
    assert query(postgres_url, f"SELECT count(*) FROM {SCHEMA}.identifies") == [(4,)]


def test_a_message_of_no_known_type_fails_alone(ctx: Context, postgres_url: str) -> None:
    ok, bogus = load(ctx, track("m1"), {"type": "bogus", "messageId": "b1"})
    assert ok is None
    assert isinstance(bogus, InvalidPayload)
    assert query(postgres_url, f"SELECT id FROM {SCHEMA}.tracks") == [("m1",)]


# -- deletion ---------------------------------------------------------------------------------


def test_deleting_a_person_removes_their_rows_everywhere(ctx: Context, postgres_url: str) -> None:
    load(ctx, track("m1", amount=1))
    load(
        ctx,
        track("m2", amount="lots"),
        identify("i1", "2026-11-29T10:00:00Z", plan="pro"),
        identify("i2", "2026-11-29T10:00:00Z", user_id="u2", plan="free"),
        message("alias", "a1", userId="u9", previousId="anon-x"),
    )
    assert DESTINATION.delete is not None
    DESTINATION.delete(ctx, person(("u1",), ("anon-x",)))
    assert query(postgres_url, f"SELECT id FROM {SCHEMA}.users") == [("u2",)]
    assert query(postgres_url, f"SELECT id FROM {SCHEMA}.tracks") == []
    assert query(postgres_url, f"SELECT id FROM {SCHEMA}.order_completed") == []
    assert query(postgres_url, f"SELECT id FROM {SCHEMA}.aliases") == []
    assert query(postgres_url, f"SELECT id FROM {SCHEMA}.identifies") == [("i2",)]
    assert query(postgres_url, f"SELECT count(*) FROM {SCHEMA}.seamline_discards") == [(0,)]
    DESTINATION.delete(ctx, person(("nobody",)))  # nothing to delete: fine


# -- settings and failures --------------------------------------------------------------------


def test_settings_are_checked(ctx: Context) -> None:
    assert DESTINATION.test_authentication is not None
    DESTINATION.test_authentication(ctx)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({}, "database_url setting is missing"),
        ({"database_url": "  "}, "database_url setting is missing"),
        ({"database_url": "postgresql://h/db", "schema": "s" * 64}, "at most 63 characters"),
        ({"database_url": "postgresql://h/db?bogus_option=1"}, "invalid database_url"),
    ],
)
def test_bad_settings_are_permanent_and_say_why(settings: dict[str, Any], problem: str) -> None:
    with httpx.Client() as client:
        context = Context(settings=settings, http=Http(client))
        with pytest.raises(PermanentError, match=problem):
            load(context, track("m1"))
        close(context)


def test_a_wrong_password_is_permanent(ctx: Context, postgres_url: str) -> None:
    ctx.settings = {"database_url": with_password(postgres_url, "wrong"), "schema": SCHEMA}
    assert DESTINATION.test_authentication is not None
    with pytest.raises(PermanentError, match="password authentication failed"):
        DESTINATION.test_authentication(ctx)


def test_a_cluster_that_does_not_answer_is_retried(ctx: Context) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    ctx.settings = {"database_url": f"postgresql://u:p@127.0.0.1:{port}/dev?connect_timeout=2"}
    with pytest.raises(RetryableError):
        load(ctx, track("m1"))
