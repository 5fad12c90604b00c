"""`seamline sources create --type webhook` and `seamline sources webhook`: webhook sources
from the command line (see docs/sources/webhooks.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.markup import escape

from seamline.cli.terminal import make_console
from seamline.collect.sources import Source
from seamline.config import Settings
from seamline.errors import InvalidInput
from seamline.store.webhooks_sql import WebhookSource

console = make_console()

SettingOption = Annotated[
    list[str] | None,
    typer.Option("--setting", help="A function setting NAME=VALUE (repeatable)."),
]
SecretOption = Annotated[
    list[str] | None,
    typer.Option("--secret-setting", help="A secret setting NAME=VALUE, stored sealed."),
]


def parse_settings(
    plain: list[str] | None, secret: list[str] | None
) -> tuple[dict[str, Any], set[str]]:
    """`NAME=VALUE` options as settings, and the names of the secret ones."""
    settings: dict[str, Any] = {}
    names: set[str] = set()
    for given, is_secret in [
        *((p, False) for p in plain or ()),
        *((s, True) for s in secret or ()),
    ]:
        name, sep, value = given.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"a setting is NAME=VALUE; got {given!r}")
        settings[name.strip()] = value
        if is_secret:
            names.add(name.strip())
    return settings, names


def _ops(settings: Settings) -> Any:
    from seamline.access.sealing import Sealer, key_from
    from seamline.data_dir import open_state
    from seamline.sources.webhook import WebhookOps
    from seamline.store.resources_sql import SqlResourceStore
    from seamline.store.webhooks_sql import SqlWebhookSources

    engine = open_state(settings)
    sealer = Sealer(key_from(settings.secret_key, settings.data_dir))
    return engine, WebhookOps(SqlWebhookSources(engine), SqlResourceStore(engine), sealer)


def check_webhook(
    settings: Settings,
    workspace_id: str,
    *,
    template: str | None,
    function: str | None,
    plain: list[str] | None,
    secret: list[str] | None,
) -> None:
    """InvalidInput for options `make_webhook` would refuse: checked before the source exists."""
    values, _ = parse_settings(plain, secret)
    _, ops = _ops(settings)
    ops.check(workspace_id, template=template, function=function, settings=values)


def make_webhook(
    settings: Settings,
    source: Source,
    *,
    template: str | None,
    function: str | None,
    plain: list[str] | None,
    secret: list[str] | None,
) -> tuple[WebhookSource, str]:
    """Make a just-created source a webhook source; returns it and its URL token."""
    from seamline.cli.audit import cli_recorded

    values, secret_names = parse_settings(plain, secret)
    engine, ops = _ops(settings)
    made, token = ops.make(
        source, template=template, function=function, settings=values, secret=secret_names
    )
    cli_recorded(engine, "source.webhook", "source", source.id, after={"function": made.function})
    return made, token


def print_webhook(webhook: WebhookSource, token: str | None, as_json: bool) -> None:
    from seamline.sources.webhook import webhook_view

    view = webhook_view(webhook, token)
    if as_json:
        print(json.dumps(view))
        return
    console.print(f"function: {webhook.function or '(none yet)'}", highlight=False)
    if token is not None:
        console.print(
            f"webhook URL path (shown once): [bold green]{escape(view['url_path'])}[/]",
            soft_wrap=True,
            highlight=False,
        )


def register(sources_app: typer.Typer, settings_of: Callable[..., Settings]) -> None:
    @sources_app.command("webhook")
    def webhook(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="The webhook source's name or id.")],
        function: Annotated[
            str | None, typer.Option("--function", help="The source function to run.")
        ] = None,
        setting: SettingOption = None,
        secret_setting: SecretOption = None,
        rotate_token: Annotated[
            bool, typer.Option("--rotate-token", help="A new secret URL; the old one stops.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Show or change a webhook source: its function, settings, secret URL."""
        from seamline.cli.audit import cli_recorded
        from seamline.collect.sources import DEFAULT_WORKSPACE_ID
        from seamline.ops.sources import SourceOps
        from seamline.store.sources_sql import SqlSourceStore

        config = settings_of(ctx, state_only=True)
        engine, ops = _ops(config)
        source = SourceOps(SqlSourceStore(engine)).find(DEFAULT_WORKSPACE_ID, name)
        token = None
        found = ops.get(source)
        if function is not None or setting or secret_setting:
            values, secret = parse_settings(setting, secret_setting)
            found = ops.configure(
                source,
                function=function,
                settings={**_current(ops, found), **values} if values else None,
                secret=secret,
            )
            cli_recorded(
                engine, "source.webhook", "source", source.id, after={"function": function}
            )
        if rotate_token:
            found, token = ops.rotate(source)
            cli_recorded(engine, "source.rotate_webhook_token", "source", source.id, after={})
        print_webhook(found, token, as_json)


def _current(ops: Any, webhook: WebhookSource) -> dict[str, Any]:
    """The stored settings as `configure` takes them back: secret ones as `[secret]`."""
    from seamline.sources.webhook import webhook_view

    settings: dict[str, Any] = webhook_view(webhook)["settings"]
    return settings
