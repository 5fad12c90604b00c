"""Access-token 401s say whether the token is missing or unknown (or revoked), on the Profile
API and the management API alike."""

from __future__ import annotations

import base64

import pytest

from seamline.access.tokens import create_token, revoke_token
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
PROFILE = "/v1/spaces/default/collections/users/profiles/user_id:zoe/traits"
MANAGEMENT = "/api/v1/resources"


def basic(secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{secret}:".encode()).decode()}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize(
    ("path", "headers", "reason", "says"),
    [
        (PROFILE, {}, "missing_token", "no access token"),
        (PROFILE, basic("sl_made-in-another-data-dir"), "unknown_token", "unknown or revoked"),
        (PROFILE, basic("not-a-token"), "unknown_token", "unknown or revoked"),
        (MANAGEMENT, {}, "missing_token", "no access token"),
        (MANAGEMENT, bearer(""), "missing_token", "no access token"),
        (MANAGEMENT, bearer("sl_made-in-another-data-dir"), "unknown_token", "unknown or revoked"),
    ],
)
async def test_a_401_says_whether_the_token_is_missing_or_unknown(
    running: Running, path: str, headers: dict[str, str], reason: str, says: str
) -> None:
    answer = await running.client.get(path, headers=headers)
    assert answer.status_code == 401
    body = answer.json()
    assert body["code"] == "unauthorized"
    assert body["details"] == {"reason": reason}
    assert says in body["message"]


async def test_a_revoked_token_gets_401_unknown_or_revoked(running: Running) -> None:
    _, secret = create_token(running.app.tokens, "default", "ops")
    assert (await running.client.get(MANAGEMENT, headers=bearer(secret))).status_code == 200
    revoke_token(running.app.tokens, "default", "ops")
    for path, headers in ((MANAGEMENT, bearer(secret)), (PROFILE, basic(secret))):
        answer = await running.client.get(path, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["details"] == {"reason": "unknown_token"}
        assert "unknown or revoked token" in answer.json()["message"]
