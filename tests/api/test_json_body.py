"""Management API bodies are read as JSON whatever their label, and the docs' curl examples
work as written: each `curl … /api/…` line of docs/*.md is parsed and sent to the app, once as
written and once without its Content-Type (what `curl -d` sends then: a form label)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.destinations.conftest import tool, workspace
from tests.destinations.sink import Sink
from tests.protocols.conftest import Workspace

__all__ = ["tool", "workspace"]
pytestmark = pytest.mark.anyio
DOCS = Path(__file__).resolve().parents[2] / "docs"
FORM = "application/x-www-form-urlencoded"


@dataclass
class Curl:
    where: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    data: str | None = None

    @property
    def path(self) -> str:
        return re.sub(r"^(https?://)?[^/]+", "", self.url)


def curl_commands(text: str, where: str) -> list[Curl]:
    """Every curl command in `text` (continued lines joined), parsed as curl reads its flags."""
    joined = re.sub(r"\\\n\s*", " ", text)
    found: list[Curl] = []
    for number, line in enumerate(joined.splitlines(), 1):
        start = line.find("curl ")
        if start < 0 or line.lstrip().startswith(("#", "|")) or "`" in line[:start]:
            continue
        words = shlex.split(line[start:].split(" #", 1)[0])
        command = Curl(f"{where}:{number}", "", "")
        rest = iter(words[1:])
        for word in rest:
            if word in ("-X", "--request"):
                command.method = next(rest)
            elif word in ("-H", "--header"):
                name, _, value = next(rest).partition(":")
                command.headers[name.strip().lower()] = value.strip()
            elif word in ("-d", "--data", "--data-raw", "--data-binary"):
                command.data = next(rest)
            elif word in ("-u", "--user"):
                next(rest)
            elif not word.startswith("-"):
                command.url = word
        if command.data is not None:
            command.method = command.method or "POST"
            command.headers.setdefault("content-type", FORM)  # what curl -d sends
        command.method = command.method or "GET"
        found.append(command)
    return found


def api_examples() -> list[Curl]:
    return [
        command
        for page in sorted(DOCS.glob("*.md"))
        for command in curl_commands(page.read_text(), page.name)
        if "/api/" in command.url
    ]


def test_the_docs_have_the_examples_this_test_runs() -> None:
    examples = {(c.method, c.path) for c in api_examples()}
    assert ("POST", "/api/v1/held/rerun") in examples
    assert ("POST", "/api/v1/destinations/hook/replay") in examples
    assert ("POST", "/api/v1/destinations/hook/test") in examples
    for command in api_examples():
        if command.data is not None:
            assert command.headers["content-type"] == "application/json", command.where


# Examples whose resource needs a real SaaS tool: the request is understood, the tool is absent.
NEEDS_A_TOOL = {"/api/v1/destinations/meta/authentication": 404}


async def run(workspace: Workspace, command: Curl, headers: dict[str, str]) -> Any:
    url = command.path.replace("src_…", workspace.source.id)
    body = command.data.replace("src_…", workspace.source.id) if command.data else None
    sent = {name: value.replace("$TOKEN", workspace.token) for name, value in headers.items()}
    return await workspace.client.request(
        command.method, url, content=body.encode() if body else None, headers=sent
    )


@pytest.mark.parametrize("label", ["as written", "without Content-Type", "curl -d's form label"])
async def test_every_api_curl_example_in_the_docs_works(
    workspace: Workspace, tool: Sink, label: str
) -> None:
    await workspace.put("destinations", "hook", {"type": "webhook", "settings": {}})
    await workspace.put(
        "subscriptions",
        "hook-orders",
        {
            "destination": "hook",
            "action": "send",
            "trigger": 'event = "Order Completed"',
            "mapping": {"url": f"{tool.url}/hook", "method": "POST", "data": {"@path": "$."}},
        },
    )
    examples = api_examples()
    assert len(examples) >= 8
    for command in examples:
        headers = dict(command.headers)
        if command.data is not None and label != "as written":
            headers.pop("content-type")
            if label == "curl -d's form label":
                headers["content-type"] = FORM
        answer = await run(workspace, command, headers)
        expected = NEEDS_A_TOOL.get(command.path, 200)
        assert answer.status_code == expected, f"{command.where}: {answer.text}"
        if command.path.endswith("/hook/test"):
            (result,) = answer.json()["data"]
            assert result["triggered"] and result["delivered"], result
        if command.path.endswith("/held/rerun"):
            assert answer.json() == {"rerun": 0}


async def test_a_body_without_content_type_is_read_as_json(workspace: Workspace) -> None:
    for headers in ({}, {"content-type": FORM}, {"content-type": "text/plain; charset=utf-8"}):
        answer = await workspace.client.post(
            "/api/v1/held/rerun",
            content=f'{{"source": "{workspace.source.id}"}}',
            headers={**workspace.headers, **headers},
        )
        assert (answer.status_code, answer.json()) == (200, {"rerun": 0}), headers
    put = await workspace.client.put(
        "/api/v1/tracking-plans/Shop",
        content='{"events": {"Signed Up": {}}}',
        headers=workspace.headers,
    )
    assert put.status_code == 200, put.text


async def test_what_is_not_json_gets_an_answer_that_says_so(workspace: Workspace) -> None:
    broken = await workspace.client.post(
        "/api/v1/held/rerun", content="source=src_1", headers=workspace.headers
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "invalid_input"
    assert "not valid JSON" in broken.json()["message"]
    upload = await workspace.client.post(
        "/api/v1/held/rerun", files={"f": ("a.json", b"{}")}, headers=workspace.headers
    )
    assert upload.status_code == 415
    assert upload.json()["code"] == "unsupported_media_type"
    assert "application/json" in upload.json()["message"]
