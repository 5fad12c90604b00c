"""What `seamline serve` prints on start: where it listens and how to send a first event."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

from seamline.collect.sources import Source
from seamline.config import Settings


def base_url(settings: Settings) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return f"http://{host}:{settings.port}"


def print_banner(console: Console, settings: Settings, source: Source) -> None:
    """Print the URL, the development write key and copy-paste snippets for each SDK.

    Every line is printed whole (soft wrap): the URL, the key, the path and the snippets are
    meant to be copied, and a line broken by the console would break the pasted code.
    """
    # Values are escaped: a `[` in a path or a chosen write key is text, not Rich markup.
    url = escape(base_url(settings))
    key = escape(source.write_key)
    event = json.dumps({"userId": "user-1", "event": "Signed Up", "properties": {"plan": "pro"}})
    lines = [
        f"[bold]Seamline[/] is listening on [bold cyan]{url}[/]",
        f"console: [bold cyan]{url}/[/] (no users yet? open it here to create the owner)",
        f"data directory: {escape(str(settings.data_dir.resolve()))}",
        f"workspace [bold]default[/], source [bold]{escape(source.name)}[/], "
        f"write key [bold green]{key}[/]",
        "[bold]First event (curl):[/]",
        f"  curl -u '{key}:' -H 'Content-Type: application/json' -d '{event}' {url}/v1/track",
        "[bold]Python[/] (segment-analytics-python):",
        "  import segment.analytics as analytics",
        f"  analytics.write_key = '{key}'; analytics.host = '{url}'",
        "[bold]Node[/] (@segment/analytics-node):",
        f"  new Analytics({{ writeKey: '{key}', host: '{url}' }})",
        "[bold]Browser[/] (@segment/analytics-next):",
        f"  AnalyticsBrowser.load({{ writeKey: '{key}', cdnURL: '{url}' }})",
        "Stop with Ctrl-C (or SIGTERM): accepted events are finished first.",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
