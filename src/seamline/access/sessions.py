"""Console login sessions: sign in with email and password, a session cookie, CSRF tokens and
login throttling.

- The cookie holds a random secret; the store keeps only its SHA-256 (a copy of the database
  does not sign anyone in). A session ends after 12 hours unused or 7 days after login,
  whichever is first, at logout, and when its user is disabled.
- The CSRF token is an HMAC of the cookie's secret, so the server can hand it out again
  (`GET /api/v1/auth/me`, after a page reload) without keeping it; the store keeps its digest.
- After 5 failed logins for one email, or from one client IP, in 15 minutes, logins from
  there are refused (429) until the oldest failure leaves the window. An unknown email and a
  wrong password get the same answer after the same work (no user enumeration).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from seamline.access.passwords import verify_nothing, verify_password
from seamline.access.principal import Principal
from seamline.access.users import LoginSession, User, email_key, principal_of_user
from seamline.errors import SeamlineError, Unauthorized

IDLE = timedelta(hours=12)
ABSOLUTE = timedelta(days=7)
WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
# Last use is written at most this often per session: one write a minute, not one per request.
TOUCH_RESOLUTION = timedelta(minutes=1)
_CSRF_CONTEXT = b"seamline csrf token"


class InvalidCredentials(Unauthorized):
    """Wrong email or password (which of the two is not said)."""

    code = "invalid_credentials"


class TooManyAttempts(SeamlineError):
    """Too many failed logins for this email or from this address; `retry_after` seconds."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed logins; try again in {retry_after} seconds",
            details={"retryAfter": retry_after},
        )
        self.retry_after = retry_after


class CsrfFailed(SeamlineError):
    """A cookie-authenticated request that changes something without the session's token."""

    code = "csrf_failed"
    status = 403


class SessionStore(Protocol):
    def by_email(self, workspace_id: str, email_key: str) -> tuple[User, str] | None: ...

    def by_id(self, user_id: str) -> User | None: ...

    def add_session(self, session: LoginSession) -> None: ...

    def session(self, session_id: str) -> LoginSession | None: ...

    def touch_session(self, session_id: str, at: datetime) -> None: ...

    def end_session(self, session_id: str) -> None: ...

    def end_expired_sessions(self, idle_before: datetime, now: datetime) -> int: ...

    def record_failure(
        self, workspace_id: str, email_key: str, client_ip: str, at: datetime
    ) -> None: ...

    def failures_since(
        self, workspace_id: str, email_key: str, client_ip: str, since: datetime
    ) -> tuple[list[datetime], list[datetime]]: ...

    def forget_failures(self, workspace_id: str, email_key: str, before: datetime) -> None: ...


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def csrf_token_of(cookie_secret: str) -> str:
    """The CSRF token of the session whose cookie holds `cookie_secret`."""
    return hmac.new(cookie_secret.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


class SignedIn:
    """A live session: its user, as a principal too, and its record."""

    def __init__(self, user: User, session: LoginSession) -> None:
        self.user = user
        self.session = session
        self.principal: Principal = principal_of_user(user)

    def check_csrf(self, sent: str | None) -> None:
        """CsrfFailed unless `sent` is this session's CSRF token."""
        if not sent or not hmac.compare_digest(_digest(sent), self.session.csrf_digest):
            raise CsrfFailed(
                "this request changes something and is authenticated by the session cookie: "
                "send the session's CSRF token (from login or GET /api/v1/auth/me) as "
                "X-CSRF-Token"
            )


class SignIn:
    """Logins, sessions and throttling over a store; `clock` is replaceable for tests."""

    def __init__(
        self, store: SessionStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._store = store
        self._clock = clock

    def login(
        self, workspace_id: str, email: str, password: str, client_ip: str
    ) -> tuple[SignedIn, str, str]:
        """A new session for the user, its cookie secret and CSRF token; InvalidCredentials or
        TooManyAttempts otherwise."""
        now = self._clock()
        key = email_key(email)
        self._refuse_if_throttled(workspace_id, key, client_ip, now)
        found = self._store.by_email(workspace_id, key)
        if found is None:
            accepted = verify_nothing(password)
        else:
            user, password_hash = found
            accepted = verify_password(password, password_hash) and user.disabled_at is None
        if not accepted or found is None:
            self._store.record_failure(workspace_id, key, client_ip, now)
            raise InvalidCredentials("wrong email or password")
        self._store.forget_failures(workspace_id, key, now - WINDOW)
        # Sessions nobody came back to are deleted here (a seen one is checked when seen).
        self._store.end_expired_sessions(now - IDLE, now)
        secret = secrets.token_urlsafe(32)
        csrf = csrf_token_of(secret)
        session = LoginSession(
            id=_digest(secret),
            user_id=found[0].id,
            csrf_digest=_digest(csrf),
            created_at=now,
            expires_at=now + ABSOLUTE,
            last_seen_at=now,
        )
        self._store.add_session(session)
        return SignedIn(found[0], session), secret, csrf

    def _refuse_if_throttled(
        self, workspace_id: str, key: str, client_ip: str, now: datetime
    ) -> None:
        by_email, by_ip = self._store.failures_since(workspace_id, key, client_ip, now - WINDOW)
        free_at = [
            times[len(times) - MAX_FAILURES] + WINDOW
            for times in (by_email, by_ip)
            if len(times) >= MAX_FAILURES
        ]
        if free_at:
            wait = (max(free_at) - now).total_seconds()
            raise TooManyAttempts(max(1, math.ceil(wait)))

    def signed_in(self, cookie_secret: str | None) -> SignedIn | None:
        """The live session the cookie names, or None: unknown, idle too long, past its end,
        or its user disabled (an ended session is deleted)."""
        if not cookie_secret:
            return None
        session = self._store.session(_digest(cookie_secret))
        if session is None:
            return None
        now = self._clock()
        user = self._store.by_id(session.user_id)
        expired = now >= session.expires_at or now - session.last_seen_at >= IDLE
        if expired or user is None or user.disabled_at is not None:
            self._store.end_session(session.id)
            return None
        if now - session.last_seen_at >= TOUCH_RESOLUTION:
            self._store.touch_session(session.id, now)
        return SignedIn(user, session)

    def logout(self, cookie_secret: str | None) -> bool:
        """End the session the cookie names; whether there was one."""
        if self.signed_in(cookie_secret) is None:
            return False
        assert cookie_secret is not None
        self._store.end_session(_digest(cookie_secret))
        return True


def principal_of_session(sign_in: SignIn, cookie_secret: str | None) -> Principal | None:
    """The principal a session cookie authenticates, or None (no, ended or unknown session)."""
    found = sign_in.signed_in(cookie_secret)
    return None if found is None else found.principal
