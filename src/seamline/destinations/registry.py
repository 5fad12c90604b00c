"""Finding destinations: every module in `destinations/catalog/` that exports `DESTINATION`.

Definitions are imported on first use, so starting the Tracking API imports none of them.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from seamline.destinations import catalog
from seamline.destinations.definition import Destination
from seamline.errors import InvalidInput


def slugs() -> list[str]:
    """Every destination in the catalog, by slug (module name with `-` for `_`)."""
    return sorted(
        module.name.replace("_", "-")
        for module in pkgutil.iter_modules(catalog.__path__)
        if not module.name.startswith("_")
    )


@cache
def load(slug: str) -> Destination:
    """The definition of `slug`; InvalidInput names the known slugs when there is none."""
    if slug not in slugs():
        raise InvalidInput(f"no destination {slug!r} in the catalog; known: {', '.join(slugs())}")
    module = importlib.import_module(f"{catalog.__name__}.{slug.replace('-', '_')}")
    definition = getattr(module, "DESTINATION", None)
    if not isinstance(definition, Destination):
        raise InvalidInput(f"catalog module {module.__name__} does not export DESTINATION")
    return definition
