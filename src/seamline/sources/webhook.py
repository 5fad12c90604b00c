"""Webhook sources as the CLI, the API and `apply` change them: make a source a webhook source
(from a template or with a named function), set its function and settings, rotate its URL token.

The URL token is shown once, when made or rotated: only its SHA-256 is stored. Settings named
secret (by the caller or by the template) are sealed with the workspace's key and shown as
`[secret]`; sending `[secret]` back keeps the stored value.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from seamline.access.sealing import HIDDEN, Sealer, is_sealed
from seamline.collect.sources import Source
from seamline.collect.webhook import WEBHOOKS_PREFIX, token_hash
from seamline.errors import InvalidInput, NotFound
from seamline.sources.templates import TEMPLATES, Template
from seamline.store.webhooks_sql import SqlWebhookSources, WebhookSource
from seamline.workspace.resources import ResourceStore

MAX_SETTINGS = 50
MAX_SETTING_CHARS = 4000


def new_token() -> str:
    """A new secret URL token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def check_settings(settings: Any) -> dict[str, Any]:
    """Settings as given, or InvalidInput: an object of at most 50 string, number or boolean
    values (short: settings are keys and options, not data)."""
    if not isinstance(settings, dict):
        raise InvalidInput("settings must be an object of names to values")
    if len(settings) > MAX_SETTINGS:
        raise InvalidInput(f"a source function has at most {MAX_SETTINGS} settings")
    for name, value in settings.items():
        if not isinstance(value, str | int | float | bool) or len(str(value)) > MAX_SETTING_CHARS:
            raise InvalidInput(
                f"setting {name!r} must be a string, number or boolean of at most "
                f"{MAX_SETTING_CHARS} characters",
                details={"field": f"settings.{name}"},
            )
    return settings


class WebhookOps:
    """Changes to webhook sources; `changed` is told so cached lookups are dropped."""

    def __init__(
        self,
        store: SqlWebhookSources,
        resources: ResourceStore,
        sealer: Sealer,
        changed: Callable[[str], None] = lambda _workspace_id: None,
    ) -> None:
        self.store = store
        self._resources = resources
        self._sealer = sealer
        self._changed = changed

    def check(
        self,
        workspace_id: str,
        *,
        template: str | None = None,
        function: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> None:
        """InvalidInput when `make` would refuse these, before anything is created."""
        if template is not None and template not in TEMPLATES:
            raise InvalidInput(
                f"unknown template {template!r}; templates are {', '.join(sorted(TEMPLATES))}",
                details={"field": "template"},
            )
        if function is not None and (
            template is None or function != TEMPLATES[template].function_name
        ):
            self._check_function(workspace_id, function)
        check_settings(settings or {})

    def make(
        self,
        source: Source,
        *,
        template: str | None = None,
        function: str | None = None,
        settings: dict[str, Any] | None = None,
        secret: Collection[str] = (),
    ) -> tuple[WebhookSource, str]:
        """Make `source` a webhook source; returns it and its URL token (shown only now).
        A template installs its function (named after it, unless one of that name exists)."""
        self.check(source.workspace_id, template=template, settings=settings)
        chosen: Template | None = None
        if template is not None:
            chosen = TEMPLATES[template]
            function = function or chosen.function_name
            if self._resources.get(source.workspace_id, "function", function) is None:
                self._resources.put(
                    source.workspace_id,
                    "function",
                    function,
                    {"code": chosen.code, "time_limit": 1.0},
                )
            secret = {*secret, *chosen.secret_settings}
        if function is not None:
            self._check_function(source.workspace_id, function)
        token = new_token()
        now = datetime.now(UTC)
        made = self.store.create(
            WebhookSource(
                source_id=source.id,
                workspace_id=source.workspace_id,
                token_hash=token_hash(token),
                function=function,
                settings=self._sealed(check_settings(settings or {}), secret, {}),
                template=template,
                enabled=source.enabled,
                created_at=now,
                updated_at=now,
            )
        )
        self._changed(source.workspace_id)
        return made, token

    def get(self, source: Source) -> WebhookSource:
        found = self.store.get(source.id)
        if found is None:
            raise NotFound(
                f"source {source.name!r} is not a webhook source; make it one with "
                "PUT /api/v1/sources/{source}/webhook or `seamline sources create --type webhook`"
            )
        return found

    def configure(
        self,
        source: Source,
        *,
        function: str | None = None,
        settings: dict[str, Any] | None = None,
        secret: Collection[str] = (),
    ) -> WebhookSource:
        """Set the function and/or replace the settings (a `[secret]` value keeps the stored
        one; settings the template marks secret stay secret)."""
        current = self.get(source)
        if function is not None:
            self._check_function(source.workspace_id, function)
        sealed = None
        if settings is not None:
            template = TEMPLATES.get(current.template or "")
            secret = {*secret, *(template.secret_settings if template else ())}
            sealed = self._sealed(check_settings(settings), secret, current.settings)
        changed = self.store.update(source.id, function=function, settings=sealed)
        self._changed(source.workspace_id)
        return changed

    def rotate(self, source: Source) -> tuple[WebhookSource, str]:
        """A new URL token; the old URL stops working (at once here, within seconds elsewhere)."""
        self.get(source)
        token = new_token()
        changed = self.store.update(source.id, token_hash=token_hash(token))
        self._changed(source.workspace_id)
        return changed, token

    def unsealed(self, webhook: WebhookSource) -> dict[str, Any]:
        """The settings in the clear, as the function receives them."""
        return {name: self._sealer.unseal(value) for name, value in webhook.settings.items()}

    def _sealed(
        self, settings: dict[str, Any], secret: Collection[str], stored: dict[str, Any]
    ) -> dict[str, Any]:
        sealed: dict[str, Any] = {}
        for name, value in settings.items():
            if value == HIDDEN and is_sealed(stored.get(name)):
                sealed[name] = stored[name]
            elif name in secret:
                sealed[name] = self._sealer.seal(str(value))
            else:
                sealed[name] = value
        return sealed

    def _check_function(self, workspace_id: str, name: str) -> None:
        if self._resources.get(workspace_id, "function", name) is None:
            raise InvalidInput(
                f"no function {name!r} in this workspace; create it first (kind `function`, "
                "defining `on_request(request, settings)`)",
                details={"field": "function"},
            )


def webhook_view(webhook: WebhookSource, token: str | None = None) -> dict[str, Any]:
    """A webhook source as the API and the CLI show it: secret settings hidden; the URL path
    with its token only right after it was made or rotated."""
    view: dict[str, Any] = {
        "source_id": webhook.source_id,
        "function": webhook.function,
        "template": webhook.template,
        "settings": {
            name: HIDDEN if is_sealed(value) else value for name, value in webhook.settings.items()
        },
        "write_key_path": f"/v1/sources/{webhook.source_id}/webhook",
        "updated_at": webhook.updated_at.isoformat(),
    }
    if token is not None:
        view["url_path"] = WEBHOOKS_PREFIX + token
        view["token_shown_once"] = True
    return view
