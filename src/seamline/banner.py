"""What `seamline serve` prints on start: where it listens and how to send a first event."""

from __future__ import annotations

import json

from rich.console import Console
from rich.panel import Panel

from seamline.collect.sources import Source
from seamline.config import Settings


def base_url(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


def print_banner(console: Console, settings: Settings, source: Source) -> None:
    """Print the URL, the development write key and copy-paste snippets for each SDK."""
    url = base_url(settings)
    key = source.write_key
    event = json.dumps({"userId": "user-1", "event": "Signed Up", "properties": {"plan": "pro"}})
    console.print(
        Panel.fit(
            f"[bold]Seamline[/] is listening on [bold cyan]{url}[/]\n"
            f"data directory: {settings.data_dir.resolve()}\n"
            f"workspace [bold]default[/], source [bold]{source.name}[/], "
            f"write key [bold green]{key}[/]",
            title="seamline serve",
        )
    )
    console.print("[bold]First event (curl):[/]", highlight=False)
    console.print(
        f"  curl -u '{key}:' -H 'Content-Type: application/json' -d '{event}' {url}/v1/track",
        highlight=False,
        soft_wrap=True,
    )
    console.print("[bold]Python[/] (segment-analytics-python):", highlight=False)
    console.print(
        f"  import segment.analytics as analytics\n"
        f"  analytics.write_key = '{key}'; analytics.host = '{url}'",
        highlight=False,
    )
    console.print("[bold]Node[/] (@segment/analytics-node):", highlight=False)
    console.print(f"  new Analytics({{ writeKey: '{key}', host: '{url}' }})", highlight=False)
    console.print("[bold]Browser[/] (@segment/analytics-next):", highlight=False)
    console.print(
        f"  AnalyticsBrowser.load({{ writeKey: '{key}', cdnURL: '{url}' }})", highlight=False
    )
    console.print("Stop with Ctrl-C (or SIGTERM): accepted events are finished first.")
