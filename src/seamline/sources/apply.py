"""The `webhook_sources:` section of `seamline apply`: which sources are webhook sources, with
which function and settings.

```yaml
webhook_sources:
  Stripe:
    template: stripe                      # optional: installs its function if missing
    function: stripe-webhook
    settings: {signing_secret: "${STRIPE_SIGNING_SECRET}", tolerance_seconds: 300}
    secret_settings: [signing_secret]     # sealed (a template's own secret ones always are)
```

A named source must exist (`seamline sources create`); one that is not a webhook source yet
becomes one, and its secret URL is printed once. Secret settings are compared in the clear,
so applying the same file twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from seamline.collect.sources import Source
from seamline.errors import InvalidInput
from seamline.sources.webhook import WebhookOps, check_settings

SECTION = "webhook_sources"
_FIELDS = frozenset({"template", "function", "settings", "secret_settings"})

FromEnvironment = Callable[[Any, str], Any]


@dataclass
class WebhookChange:
    """Making a source a webhook source, or changing its function or settings."""

    action: Literal["create", "update"]
    source: Source
    template: str | None
    function: str | None
    settings: dict[str, Any]
    secret: frozenset[str]
    changed: list[str] = field(default_factory=list)

    def describe(self) -> str:
        sign = "+" if self.action == "create" else "~"
        what = f" ({', '.join(self.changed)})" if self.changed else ""
        return f"{sign} {self.action} webhook source {self.source.name!r}{what}"


def plan_webhooks(
    document: Mapping[str, Any],
    find: Callable[[str], Source],
    ops: WebhookOps,
    from_environment: FromEnvironment,
    new_functions: Collection[str] = (),
) -> list[WebhookChange]:
    """The changes the file's `webhook_sources:` asks for; InvalidInput names the place.
    `new_functions` are functions the same apply creates (they need not exist yet)."""
    section = document.get(SECTION) or {}
    if not isinstance(section, dict):
        raise InvalidInput(f"{SECTION}: expected a mapping of source names to definitions")
    changes: list[WebhookChange] = []
    for name, spec in section.items():
        where = f"{SECTION}.{name}"
        spec = dict(spec or {})
        unknown = sorted(set(spec) - _FIELDS)
        if unknown:
            raise InvalidInput(
                f"{where}: unknown field {unknown[0]!r}; fields are {sorted(_FIELDS)}"
            )
        source = find(str(name))
        raw = spec.get("settings") or {}
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where}.settings: expected a mapping of names to values")
        settings = check_settings(
            {key: from_environment(value, f"{where}.settings.{key}") for key, value in raw.items()}
        )
        secret = frozenset(str(s) for s in spec.get("secret_settings") or ())
        template, function = spec.get("template"), spec.get("function")
        current = ops.store.get(source.id)
        if current is None:
            try:
                known = function if function not in new_functions else None
                ops.check(source.workspace_id, template=template, function=known, settings=settings)
            except InvalidInput as error:
                raise InvalidInput(f"{where}: {error.message}") from None
            changes.append(WebhookChange("create", source, template, function, settings, secret))
            continue
        changed = []
        if function is not None and function != current.function:
            changed.append("function")
        if settings != ops.unsealed(current):
            changed.append("settings")
        if changed:
            changes.append(
                WebhookChange("update", source, template, function, settings, secret, changed)
            )
    return changes


def apply_webhook(ops: WebhookOps, change: WebhookChange) -> str | None:
    """Make the change; the new secret URL path when a webhook source was created."""
    if change.action == "create":
        _, token = ops.make(
            change.source,
            template=change.template,
            function=change.function,
            settings=change.settings,
            secret=change.secret,
        )
        return f"/v1/webhooks/{token}"
    ops.configure(
        change.source,
        function=change.function if "function" in change.changed else None,
        settings=change.settings if "settings" in change.changed else None,
        secret=change.secret,
    )
    return None
