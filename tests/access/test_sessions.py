"""Login sessions and throttling over the SQLite store, with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from seamline.access.sessions import (
    CsrfFailed,
    InvalidCredentials,
    SignIn,
    TooManyAttempts,
    principal_of_session,
)
from seamline.access.users import create_user, disable_user
from seamline.store.sources_sql import SqlSourceStore
from seamline.store.state import open_state_store
from seamline.store.users_sql import SqlUserStore

PASSWORD = "a long enough password"
IP = "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlUserStore]:
    engine = open_state_store(f"sqlite:///{tmp_path}/state.db")
    SqlSourceStore(engine).ensure_workspace("default", "Default")
    users = SqlUserStore(engine)
    create_user(users, "default", "ann@example.com", PASSWORD, ["unify-read-only"])
    yield users
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sign_in(store: SqlUserStore, clock: Clock) -> SignIn:
    return SignIn(store, clock)


def test_a_session_is_kept_as_digests_and_names_its_user(
    sign_in: SignIn, store: SqlUserStore
) -> None:
    found, secret, csrf = sign_in.login("default", "ANN@example.com", PASSWORD, IP)
    assert found.user.email == "ann@example.com"
    assert store.session(secret) is None and store.session(csrf) is None  # digests only
    again = sign_in.signed_in(secret)
    assert again is not None and again.user.id == found.user.id
    principal = principal_of_session(sign_in, secret)
    assert principal is not None and principal.kind == "user" and not principal.pii_access
    again.check_csrf(csrf)
    with pytest.raises(CsrfFailed):
        again.check_csrf("not the token")
    with pytest.raises(CsrfFailed):
        again.check_csrf(None)
    assert sign_in.signed_in("made-up") is None and sign_in.signed_in(None) is None


def test_a_session_ends_after_12_hours_idle(sign_in: SignIn, clock: Clock) -> None:
    _, secret, _ = sign_in.login("default", "ann@example.com", PASSWORD, IP)
    clock.advance(hours=11, minutes=59)
    assert sign_in.signed_in(secret) is not None  # used: idle time starts again
    clock.advance(hours=11, minutes=59)
    assert sign_in.signed_in(secret) is not None
    clock.advance(hours=12)
    assert sign_in.signed_in(secret) is None
    clock.advance(minutes=-1)
    assert sign_in.signed_in(secret) is None  # an ended session is gone for good


def test_a_session_ends_7_days_after_login_however_busy(sign_in: SignIn, clock: Clock) -> None:
    _, secret, _ = sign_in.login("default", "ann@example.com", PASSWORD, IP)
    for _ in range(15):  # every 11 hours: never idle for 12
        clock.advance(hours=11)
        assert sign_in.signed_in(secret) is not None
    clock.advance(hours=3)  # 7 days and 0 hours after login
    assert sign_in.signed_in(secret) is None


def test_disabling_a_user_ends_their_sessions_at_once(sign_in: SignIn, store: SqlUserStore) -> None:
    _, secret, _ = sign_in.login("default", "ann@example.com", PASSWORD, IP)
    disable_user(store, "default", "ann@example.com")
    assert sign_in.signed_in(secret) is None
    with pytest.raises(InvalidCredentials):
        sign_in.login("default", "ann@example.com", PASSWORD, IP)


def test_logout_ends_the_session(sign_in: SignIn) -> None:
    _, secret, _ = sign_in.login("default", "ann@example.com", PASSWORD, IP)
    assert sign_in.logout(secret)
    assert sign_in.signed_in(secret) is None
    assert not sign_in.logout(secret)


def test_an_unknown_email_and_a_wrong_password_get_the_same_refusal(sign_in: SignIn) -> None:
    refusals = []
    for email, password in (("ann@example.com", "wrong password!"), ("nobody@x.com", PASSWORD)):
        with pytest.raises(InvalidCredentials) as refused:
            sign_in.login("default", email, password, IP)
        refusals.append((refused.value.code, refused.value.status, refused.value.message))
    assert refusals[0] == refusals[1] == ("invalid_credentials", 401, "wrong email or password")


def test_five_failures_for_one_email_refuse_it_for_15_minutes(
    sign_in: SignIn, clock: Clock
) -> None:
    for attempt in range(5):
        with pytest.raises(InvalidCredentials):
            sign_in.login("default", "ann@example.com", "wrong password!", f"192.0.2.{attempt}")
        clock.advance(minutes=1)
    with pytest.raises(TooManyAttempts) as refused:  # even with the right password
        sign_in.login("default", "Ann@example.com", PASSWORD, "192.0.2.99")
    assert refused.value.status == 429 and refused.value.code == "too_many_attempts"
    assert refused.value.retry_after == 10 * 60  # the first failure leaves the window then
    clock.advance(minutes=10)
    found, _, _ = sign_in.login("default", "ann@example.com", PASSWORD, "192.0.2.99")
    assert found.user.email == "ann@example.com"


def test_five_failures_from_one_address_refuse_it_whatever_the_email(
    sign_in: SignIn, clock: Clock
) -> None:
    for attempt in range(5):
        with pytest.raises(InvalidCredentials):
            sign_in.login("default", f"guess{attempt}@example.com", PASSWORD, IP)
    with pytest.raises(TooManyAttempts) as refused:
        sign_in.login("default", "ann@example.com", PASSWORD, IP)
    assert refused.value.retry_after == 15 * 60
    found, _, _ = sign_in.login("default", "ann@example.com", PASSWORD, "203.0.113.1")
    assert found.user.email == "ann@example.com"  # another address is not refused
    clock.advance(minutes=15)
    assert sign_in.login("default", "ann@example.com", PASSWORD, IP)[0].user.email


def test_sessions_nobody_came_back_to_are_deleted_at_the_next_login(
    sign_in: SignIn, store: SqlUserStore, clock: Clock
) -> None:
    found, _, _ = sign_in.login("default", "ann@example.com", PASSWORD, IP)
    sign_in.login("default", "ann@example.com", PASSWORD, IP)
    assert store.count_sessions(found.user.id) == 2
    clock.advance(hours=12)
    sign_in.login("default", "ann@example.com", PASSWORD, IP)
    assert store.count_sessions(found.user.id) == 1  # only the new one
