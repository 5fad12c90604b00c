"""Worked source functions for tools' webhooks, to start a webhook source from.

Each template is the Python code of a source function (run in the functions sandbox, see
docs/functions.md) with the name its function gets and the settings it reads; settings in
`secret_settings` are sealed when stored.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    function_name: str
    code: str
    settings: tuple[str, ...] = ()
    secret_settings: tuple[str, ...] = ()


def _load() -> dict[str, Template]:
    from seamline.sources.templates import shopify, stripe

    return {t.name: t for t in (stripe.TEMPLATE, shopify.TEMPLATE)}


TEMPLATES: dict[str, Template] = _load()
"""Templates by name."""
