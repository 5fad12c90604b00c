"""The settings document analytics-next loads from `{cdnURL}/v1/projects/{writeKey}/settings`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def browser_settings(write_key: str, base_url: str) -> dict[str, Any]:
    """Settings that send every event of the browser SDK back to `base_url`.

    analytics-next posts to `{protocol}://{apiHost}/{t|i|p|…}`, where `apiHost` carries no
    scheme and includes `/v1`. Remote metrics are off: they would go to Segment's host.
    """
    parts = urlsplit(base_url)
    api_host = f"{parts.netloc}{parts.path.rstrip('/')}/v1"
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": api_host,
                "protocol": parts.scheme or "http",
                "unbundledIntegrations": [],
                "addBundledMetadata": True,
                "maybeBundledConfigIds": {},
            }
        },
        "plan": {"track": {"__default": {"enabled": True, "integrations": {}}}},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }
