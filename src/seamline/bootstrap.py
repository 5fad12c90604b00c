"""What `seamline serve` makes before anything runs: the default workspace and its development
source. Apart from `seamline.app`, so the supervisor process starts its roles without
importing the server (~2 s of CPU before any role could start)."""

from __future__ import annotations

from seamline.collect.sources import DEFAULT_WORKSPACE_ID, Source, new_source, same_name
from seamline.config import Settings
from seamline.data_dir import open_state
from seamline.errors import Conflict
from seamline.store.sources_sql import SqlSourceStore

DEV_SOURCE_NAME = "Development"


def bootstrap(settings: Settings) -> Source:
    """Create the default workspace and its development source unless they exist."""
    engine = open_state(settings)
    try:
        store = SqlSourceStore(engine)
        store.ensure_workspace(DEFAULT_WORKSPACE_ID, "Default")
        found = _development_source(store)
        if found is not None:
            return found
        try:
            return store.create(new_source(DEV_SOURCE_NAME, DEFAULT_WORKSPACE_ID))
        except Conflict:
            # Roles starting together on one database: another process made it meanwhile.
            found = _development_source(store)
            if found is None:
                raise
            return found
    finally:
        engine.dispose()


def _development_source(store: SqlSourceStore) -> Source | None:
    for source in store.list(DEFAULT_WORKSPACE_ID):
        if same_name(source.name, DEV_SOURCE_NAME):  # names are unique ignoring case
            return source
    return None
