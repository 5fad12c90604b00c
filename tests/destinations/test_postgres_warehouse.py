"""The PostgreSQL warehouse against a real server: Segment's tables and columns, schema
evolution, idempotent re-delivery, the users table, type conflicts and failure classes."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from seamline.destinations import registry
from seamline.destinations.catalog.postgres_warehouse import DESTINATION
from seamline.destinations.catalog.postgres_warehouse.cells import Cell, convert, infer
from seamline.destinations.catalog.postgres_warehouse.connections import classify, libpq_url
from seamline.destinations.catalog.postgres_warehouse.loader import close, loader_for
from seamline.destinations.catalog.postgres_warehouse.rows import rows_of
from seamline.destinations.definition import Context
from seamline.destinations.errors import (
    DeliveryError,
    InvalidPayload,
    PermanentError,
    RetryableError,
)
from seamline.destinations.http import Http
from seamline.destinations.warehouse_naming import snakecase

ACTION = DESTINATION.actions["load_events"]
SCHEMA = "web"


def message(
    kind: str, message_id: str, received_at: str = "2026-11-29T10:00:00Z", **fields: Any
) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": message_id,
        "anonymousId": "anon-1",
        "timestamp": received_at,
        "sentAt": received_at,
        "receivedAt": received_at,
        "context": {
            "library": {"name": "analytics.js", "version": "5.2.0"},
            "page": {"url": "https://example.com/"},
            "userAgent": "Mozilla/5.0",
        },
        **fields,
    }


def track(message_id: str, event: str = "Order Completed", **properties: Any) -> dict[str, Any]:
    return message("track", message_id, userId="u1", event=event, properties=properties)


@pytest.fixture
def ctx(postgres_url: str) -> Iterator[Context]:
    with httpx.Client() as client:
        context = Context(
            settings={"database_url": postgres_url, "schema": SCHEMA}, http=Http(client)
        )
        yield context
        close(context)


def load(ctx: Context, *messages: dict[str, Any]) -> list[DeliveryError | None]:
    """Deliver a batch as the delivery worker does; returns the per-message outcomes."""
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


def with_password(url: str, password: str) -> str:
    options = conninfo_to_dict(libpq_url(url))
    options["password"] = password
    return make_conninfo(**options)  # type: ignore[arg-type]


# -- naming and types (no server) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "snake"),
    [
        # go-snakecase's own test table: Segment's names must come out the same here.
        ("sample text", "sample_text"),
        ("sample-text", "sample_text"),
        ("sample___text", "sample_text"),
        ("sampleText", "sample_text"),
        ("inviteYourCustomersAddInvites", "invite_your_customers_add_invites"),
        ("   sample   2    Text   ", "sample_2_text"),
        ("SAMPLE 2 TEXT", "sample_2_text"),
        ("___$$Base64Encode", "base64_encode"),
        ("FOO:BAR$BAZ", "foo_bar_baz"),
        ("something.com", "something_com"),
        ("$something%", "something"),
        ("•¶§ƒ˚foo˙∆˚¬", "foo"),
        ("Order Completed", "order_completed"),
        ("userID", "user_id"),
    ],
)
def test_names_are_snake_cased_as_segment_does(name: str, snake: str) -> None:
    assert snakecase(name) == snake


@pytest.mark.parametrize(
    ("value", "column", "stored"),
    [
        # A number makes a numeric column, integers and decimals alike.
        (10, "numeric", Decimal(10)),
        (10, "text", "10"),  # any value fits a text column, as its text
        (True, "text", "true"),
        # A time in a text column keeps the original string, not a reformatting.
        ("2026-11-29T10:00:00Z", "text", "2026-11-29T10:00:00Z"),
        ("12.5", "numeric", Decimal("12.5")),  # a numeric string fits a numeric column
        ("ten", "numeric", None),  # a word does not: NULL, and the value goes to seamline_discards
        ("TRUE", "boolean", True),
        (1, "boolean", None),  # numbers and booleans never turn into each other
        ("yesterday", "timestamptz", None),
        (12, "timestamptz", None),  # nor numbers into times (seconds or milliseconds?)
    ],
)
def test_a_value_fits_an_existing_column_only_without_loss(
    value: Any, column: Any, stored: Any
) -> None:
    assert convert(infer(value), column) == stored


def test_types_are_inferred_from_values() -> None:
    assert [
        infer(v).type for v in (True, 3, 2.5, "2026-11-29T10:00:00.123+01:00", "2026-11-29", "x")
    ] == ["boolean", "numeric", "numeric", "timestamptz", "text", "text"]
    assert infer("a\x00b") == Cell("text", "ab", "ab")


def test_the_catalog_lists_the_destination() -> None:
    assert registry.load("postgres-warehouse") is DESTINATION
    assert ACTION.fields["event"].default == {"@path": "$."}
    assert DESTINATION.secret_settings() == {"database_url"}


# -- tables and columns -----------------------------------------------------------------------


def test_a_track_lands_in_tracks_and_its_event_table_with_flattened_columns(
    ctx: Context, postgres_url: str
) -> None:
    load(
        ctx,
        track(
            "m1",
            total=10.5,
            orderId="o-1",
            product={"sku": "G-32", "price": 3},
            tags=["a", "b"],
            coupon=None,
            userId="dropped",
        ),
    )

    tracks = row(postgres_url, "tracks", "m1")
    assert tracks["event"] == "order_completed"
    assert tracks["event_text"] == "Order Completed"
    assert tracks["user_id"] == "u1"
    assert tracks["context_page_url"] == "https://example.com/"
    assert tracks["context_user_agent"] == "Mozilla/5.0"
    assert tracks["context_library_version"] == "5.2.0"
    assert tracks["uuid_ts"] is not None
    assert "total" not in tracks  # properties only in the event's own table

    event = row(postgres_url, "order_completed", "m1")
    assert event["total"] == Decimal("10.5")
    assert event["order_id"] == "o-1"
    assert event["product_sku"] == "G-32"
    assert event["product_price"] == Decimal(3)
    assert event["tags"] == '["a","b"]'  # arrays are stringified
    assert event["user_id"] == "u1"  # a property named like a reserved column is dropped
    assert "coupon" not in event  # no column for a null
    assert event["received_at"].isoformat() == "2026-11-29T10:00:00+00:00"

    types = columns(postgres_url, "order_completed")
    assert types["total"] == "numeric"
    assert types["received_at"] == "timestamp with time zone"
    assert types["original_timestamp"] == "timestamp with time zone"


@pytest.mark.parametrize(
    ("sent", "table", "expected"),
    [
        (
            message(
                "identify",
                "i1",
                userId="u1",
                traits={"email": "a@example.com", "address": {"street": "6th Street"}},
            ),
            "identifies",
            {"user_id": "u1", "email": "a@example.com", "address_street": "6th Street"},
        ),
        (
            message(
                "page",
                "p1",
                name="Home",
                category="Docs",
                properties={"title": "Welcome", "path": "/"},
            ),
            "pages",
            {"name": "Home", "category": "Docs", "title": "Welcome", "path": "/"},
        ),
        (
            message("screen", "s1", name="Settings", properties={"dark": True}),
            "screens",
            {"name": "Settings", "dark": True},
        ),
        (
            message("group", "g1", userId="u1", groupId="acme", traits={"employeeCount": 40}),
            "groups",
            {"group_id": "acme", "employee_count": Decimal(40)},
        ),
        (
            message("alias", "a1", userId="u1", previousId="anon-1"),
            "aliases",
            {"user_id": "u1", "previous_id": "anon-1"},
        ),
        (
            message("track", "t1", event="Users", properties={"n": 1}),
            "users_event",
            {"event": "users_event", "event_text": "Users", "n": Decimal(1)},
        ),
    ],
)
def test_each_call_lands_in_its_table(
    ctx: Context, postgres_url: str, sent: dict[str, Any], table: str, expected: dict[str, Any]
) -> None:
    load(ctx, sent)
    stored = row(postgres_url, table, sent["messageId"])
    assert {k: stored[k] for k in expected} == expected
    assert stored["anonymous_id"] == "anon-1"
    assert stored["context_library_name"] == "analytics.js"


def test_identify_and_group_upsert_users_and_accounts(ctx: Context, postgres_url: str) -> None:
    load(
        ctx,
        message("identify", "i1", userId="u1", traits={"plan": "pro"}),
        message("group", "g1", groupId="acme", traits={"name": "Acme"}),
    )
    assert row(postgres_url, "users", "u1")["plan"] == "pro"
    assert row(postgres_url, "accounts", "acme")["name"] == "Acme"
    assert "anonymous_id" not in row(postgres_url, "users", "u1")  # a user has many


# -- schema evolution and conflicts -----------------------------------------------------------


def test_a_new_property_adds_a_column_and_older_rows_have_null_there(
    ctx: Context, postgres_url: str
) -> None:
    load(ctx, track("m1", plan="pro"))
    assert "seats" not in columns(postgres_url, "order_completed")
    load(ctx, track("m2", plan="team", seats=5))
    assert columns(postgres_url, "order_completed")["seats"] == "numeric"
    assert row(postgres_url, "order_completed", "m1")["seats"] is None
    assert row(postgres_url, "order_completed", "m2")["seats"] == Decimal(5)


def test_a_new_column_takes_the_type_of_its_latest_value_in_the_batch(
    ctx: Context, postgres_url: str
) -> None:
    load(ctx, track("m1", size=1), track("m2", size="L"))  # Segment: "the most recent occurrence"
    assert columns(postgres_url, "order_completed")["size"] == "text"
    assert row(postgres_url, "order_completed", "m1")["size"] == "1"


def test_a_type_conflict_keeps_the_column_type_and_discards_what_does_not_fit(
    ctx: Context, postgres_url: str
) -> None:
    load(ctx, track("m1", amount=10, label="gold"))
    load(ctx, track("m2", amount="ten", label=5), track("m3", amount="12.5"))

    assert columns(postgres_url, "order_completed")["amount"] == "numeric"
    assert row(postgres_url, "order_completed", "m2")["amount"] is None
    assert row(postgres_url, "order_completed", "m2")["label"] == "5"  # anything fits text
    assert row(postgres_url, "order_completed", "m3")["amount"] == Decimal("12.5")
    discards = query(
        postgres_url,
        f"SELECT table_name, row_id, column_name, column_type, value FROM {SCHEMA}.seamline_discards",
    )
    assert discards == [("order_completed", "m2", "amount", "numeric", "ten")]


def test_a_dropped_table_is_created_again(ctx: Context, postgres_url: str) -> None:
    load(ctx, track("m1", plan="pro"))
    query_ddl = psycopg.connect(libpq_url(postgres_url), autocommit=True)
    with query_ddl:
        query_ddl.execute(f"DROP TABLE {SCHEMA}.order_completed")
    load(ctx, track("m2", plan="team"))  # Segment's advice for a backfill: drop the table
    assert row(postgres_url, "order_completed", "m2")["plan"] == "team"


def test_concurrent_loaders_add_columns_without_racing(postgres_url: str) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        with httpx.Client() as client:
            context = Context(
                settings={"database_url": postgres_url, "schema": SCHEMA}, http=Http(client)
            )
            try:
                for i in range(3):
                    properties = {f"p{n}_{i}": i, "shared": i}
                    load(
                        context,
                        message(
                            "track", f"w{n}-{i}", event="Order Completed", properties=properties
                        ),
                    )
            except BaseException as error:
                errors.append(error)
            finally:
                close(context)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert query(postgres_url, f"SELECT count(*) FROM {SCHEMA}.order_completed") == [(12,)]


# -- idempotency and users --------------------------------------------------------------------


def test_a_redelivered_batch_inserts_nothing(ctx: Context, postgres_url: str) -> None:
    batch = [
        track("m1", total=1),
        track("m2", total=2),
        message("page", "p1", properties={"title": "Home"}),
    ]
    assert load(ctx, *batch) == [None, None, None]
    versions = query(postgres_url, f"SELECT id, xmin::text, uuid_ts FROM {SCHEMA}.tracks")
    assert load(ctx, *batch) == [None, None, None]
    assert query(postgres_url, f"SELECT id, xmin::text, uuid_ts FROM {SCHEMA}.tracks") == versions
    rows = [row for sent in batch for row in rows_of(sent)]
    assert loader_for(ctx).load(rows) == {"order_completed": 0, "pages": 0, "tracks": 0}


def test_a_message_without_a_message_id_is_still_loaded_once(
    ctx: Context, postgres_url: str
) -> None:
    sent = track("unused", total=1)
    del sent["messageId"]
    load(ctx, sent)
    load(ctx, sent)
    assert query(postgres_url, f"SELECT count(*) FROM {SCHEMA}.tracks") == [(1,)]


def test_users_keep_the_latest_value_of_each_trait(ctx: Context, postgres_url: str) -> None:
    def identify(message_id: str, at: str, **traits: Any) -> dict[str, Any]:
        return message("identify", message_id, received_at=at, userId="u1", traits=traits)

    # In one batch out of order: the later message wins per trait.
    load(
        ctx,
        identify("i2", "2026-11-29T11:00:00Z", plan="pro"),
        identify("i1", "2026-11-29T10:00:00Z", plan="free", email="a@example.com"),
    )
    user = row(postgres_url, "users", "u1")
    assert (user["plan"], user["email"]) == ("pro", "a@example.com")

    # A newer message changes what it sends and keeps the rest.
    load(ctx, identify("i3", "2026-11-29T12:00:00Z", plan="team"))
    # An older message arriving late only fills what is still empty.
    load(ctx, identify("i0", "2026-11-29T09:00:00Z", plan="trial", company="Initech"))
    user = row(postgres_url, "users", "u1")
    assert (user["plan"], user["email"], user["company"]) == ("team", "a@example.com", "Initech")
    assert user["received_at"].isoformat() == "2026-11-29T12:00:00+00:00"
    assert query(postgres_url, f"SELECT count(*) FROM {SCHEMA}.identifies") == [(4,)]


def test_a_message_of_no_known_type_fails_alone(ctx: Context, postgres_url: str) -> None:
    ok, bogus = load(ctx, track("m1"), {"type": "bogus", "messageId": "b1"})
    assert ok is None
    assert isinstance(bogus, InvalidPayload)
    assert "'b1' has no known type" in bogus.message
    assert query(postgres_url, f"SELECT id FROM {SCHEMA}.tracks") == [("m1",)]
    with pytest.raises(InvalidPayload):
        ACTION.perform(ctx, {"type": "bogus", "messageId": "b2"})


def test_perform_accepts_the_raw_message(ctx: Context, postgres_url: str) -> None:
    ACTION.perform(ctx, track("m1", total=1))
    assert row(postgres_url, "tracks", "m1")["event"] == "order_completed"


# -- failures ---------------------------------------------------------------------------------


def test_settings_are_checked(ctx: Context) -> None:
    assert DESTINATION.test_authentication is not None
    DESTINATION.test_authentication(ctx)


def test_a_wrong_password_is_permanent(ctx: Context, postgres_url: str) -> None:
    ctx.settings = {"database_url": with_password(postgres_url, "wrong"), "schema": SCHEMA}
    with pytest.raises(PermanentError, match="password authentication failed"):
        load(ctx, track("m1"))


def test_permission_denied_is_permanent(ctx: Context, postgres_url: str) -> None:
    role = f"reader_{uuid.uuid4().hex[:12]}"  # roles are server-wide; servers may be shared
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'reader'")
    options = conninfo_to_dict(libpq_url(postgres_url)) | {"user": role, "password": "reader"}
    ctx.settings = {"database_url": make_conninfo(**options), "schema": SCHEMA}  # type: ignore[arg-type]
    assert DESTINATION.test_authentication is not None
    try:
        with pytest.raises(PermanentError, match="may not create tables"):
            DESTINATION.test_authentication(ctx)
        with pytest.raises(PermanentError, match="permission denied") as raised:
            load(ctx, track("m1"))
        assert not isinstance(raised.value, RetryableError)
    finally:
        close(ctx)
        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as admin:
            admin.execute(f"DROP ROLE {role}")


def test_a_refused_connection_is_retryable(ctx: Context) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx.settings = {"database_url": f"postgresql://seamline:secret@127.0.0.1:{port}/warehouse"}
    with pytest.raises(RetryableError, match="Connection refused") as raised:
        load(ctx, track("m1"))
    assert "secret" not in raised.value.message


def test_a_server_that_never_answers_is_retryable(ctx: Context) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        ctx.settings = {
            "database_url": f"postgresql://seamline@127.0.0.1:{port}/warehouse?connect_timeout=2"
        }
        with pytest.raises(RetryableError, match="timeout"):
            load(ctx, track("m1"))


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (psycopg.errors.SerializationFailure("x"), RetryableError),
        (psycopg.errors.DeadlockDetected("x"), RetryableError),
        (psycopg.errors.LockNotAvailable("x"), RetryableError),
        (psycopg.errors.AdminShutdown("x"), RetryableError),  # the server is restarting
        (psycopg.errors.DiskFull("x"), RetryableError),
        (psycopg.errors.TooManyConnections("x"), RetryableError),
        (psycopg.OperationalError("server closed the connection unexpectedly"), RetryableError),
        (psycopg.OperationalError('FATAL:  database "dw" does not exist'), PermanentError),
        (psycopg.errors.InvalidPassword("x"), PermanentError),
        (psycopg.errors.InsufficientPrivilege("x"), PermanentError),
        (psycopg.errors.ReadOnlySqlTransaction("x"), PermanentError),  # a replica
        (psycopg.errors.NumericValueOutOfRange("x"), InvalidPayload),  # a column changed by hand
    ],
)
def test_failures_are_classified(error: psycopg.Error, kind: type[DeliveryError]) -> None:
    assert type(classify(error)) is kind


def test_a_value_the_server_rejects_is_an_invalid_payload(ctx: Context, postgres_url: str) -> None:
    load(ctx, track("m1", quantity=1))
    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as admin:
        admin.execute(f"ALTER TABLE {SCHEMA}.order_completed ALTER COLUMN quantity TYPE smallint")
    with pytest.raises(InvalidPayload, match="out of range"):
        load(ctx, track("m2", quantity=10**6))
    load(ctx, track("m3", quantity=7))  # the instance keeps working
    assert row(postgres_url, "order_completed", "m3")["quantity"] == 7
    # Tables are written in name order and a failure stops the batch: `tracks` came after.
    assert query(postgres_url, f"SELECT id FROM {SCHEMA}.tracks ORDER BY id") == [("m1",), ("m3",)]
