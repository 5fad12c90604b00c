"""The request-shaping helpers several catalog modules share: where a request goes (a region's
host, an account's host name), how an error names a payload of a batch, an optional field."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.destinations.definition import Context
from seamline.destinations.errors import PermanentError
from seamline.destinations.http import Http
from seamline.destinations.shaping import (
    batch_place,
    optional_field,
    regional_url,
    tenant_url,
)

REGIONS = {"US": "https://api.tool.example", "EU": "https://api.eu.tool.example"}
TENANT = "https://{}.tool.example/api/v1"


def context(http: Http, **settings: Any) -> Context:
    return Context(settings, http)


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        ({}, "https://api.tool.example/users"),
        ({"region": "eu"}, "https://api.eu.tool.example/users"),
        ({"region": "EU", "endpoint": "http://proxy.example/"}, "http://proxy.example/users"),
    ],
    ids=["US by default", "a region in any case", "the endpoint setting wins"],
)
def test_a_regional_url(http: Http, settings: dict[str, Any], url: str) -> None:
    assert regional_url(context(http, **settings), REGIONS, "Tool", "/users") == url


def test_an_unknown_region_names_the_tool_and_the_regions(http: Http) -> None:
    with pytest.raises(PermanentError, match=r"unknown Tool region 'APAC'; one of US, EU"):
        regional_url(context(http, region="apac"), REGIONS, "Tool", "/users")


def test_a_tenant_url_puts_the_account_in_the_host(http: Http) -> None:
    given = context(http, subdomain=" Acme-1 ")
    assert tenant_url(given, "subdomain", TENANT, "bad") == "https://acme-1.tool.example/api/v1"
    proxied = context(http, subdomain="x", endpoint="http://proxy.example/v1/")
    assert tenant_url(proxied, "subdomain", TENANT, "bad") == "http://proxy.example/v1"


@pytest.mark.parametrize(
    "account",
    ["", "evil.example/", "a.b", "-leading-dash", "x" * 64, "ac me", "user@host"],
)
def test_an_account_that_would_change_the_host_is_refused(http: Http, account: str) -> None:
    with pytest.raises(PermanentError, match="subdomain must be one label"):
        tenant_url(
            context(http, subdomain=account), "subdomain", TENANT, "subdomain must be one label"
        )


def test_a_batch_names_its_payload_by_place() -> None:
    assert batch_place(3, 5) == " (payload 3 of the batch)"
    assert batch_place(0, 1) == ""


def test_an_optional_field_keeps_its_default_mapping() -> None:
    field = optional_field("Email", "The email.", {"@path": "$.traits.email"})
    assert (field.type, field.required, field.default) == (
        "string",
        False,
        {"@path": "$.traits.email"},
    )
    assert optional_field("Value", "A number.", type_="number").type == "number"
