"""Management API errors for bodies it cannot read: JSON with a stable code, values written as
JSON writes them (`null`, not Python's `None`)."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.access.tokens import create_token
from seamline.api.destinations import _time
from seamline.errors import InvalidInput
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio
DEEP = b'{"ids":' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/held/rerun"),
        ("PUT", "/api/v1/tracking-plans/plan"),
        ("POST", "/api/v1/destinations/hook/replay"),
    ],
)
async def test_a_body_nested_past_the_json_parser_is_a_400_too_deep(
    running: Running, method: str, path: str
) -> None:
    _, secret = create_token(running.app.tokens, running.source.workspace_id, "admin")
    answer = await running.client.request(
        method,
        path,
        content=DEEP,
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "too_deep"


@pytest.mark.parametrize(
    ("value", "written"),
    [(None, "null"), (True, "true"), ({"at": 1}, '{"at":1}'), ("soon", '"soon"')],
)
def test_a_replay_time_that_is_not_a_time_is_quoted_as_json(value: Any, written: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        _time({"from": value}, "from")
    assert refused.value.message == f"`from` must be an ISO 8601 time, got {written}"
