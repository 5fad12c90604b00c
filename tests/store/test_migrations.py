"""The migrations build exactly the tables `store/state.py` declares, on both databases."""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import create_engine, inspect, text

import seamline.store
from seamline.store.state import head_revision, metadata, migrate, open_state_store

# Some modules of store/ declare their own tables on the shared metadata: import them all, or
# the declared set depends on what this worker happened to import before.
for _module in pkgutil.iter_modules(seamline.store.__path__):
    if _module.name != "migrations":
        importlib.import_module(f"seamline.store.{_module.name}")


def columns(engine: object) -> dict[str, set[str]]:
    inspector = inspect(engine)
    return {
        table: {column["name"] for column in inspector.get_columns(table)}
        for table in inspector.get_table_names()
        if table != "alembic_version"
    }


def test_migrations_match_the_declared_tables(bare_state_url: str) -> None:
    engine = open_state_store(bare_state_url)
    try:
        declared = {table.name: {c.name for c in table.columns} for table in metadata.sorted_tables}
        assert columns(engine) == declared
        migrate(engine)  # a second run changes nothing
        with engine.connect() as conn:
            assert (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
                == head_revision()
            )
    finally:
        engine.dispose()


def test_a_data_dir_from_before_migrations_is_adopted(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    old = create_engine(url)
    metadata.tables["workspaces"].create(old)
    metadata.tables["sources"].create(old)
    with old.begin() as conn:
        conn.execute(
            text("INSERT INTO workspaces VALUES ('default', 'Default', '2026-01-01 00:00:00')")
        )
    old.dispose()
    engine = open_state_store(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id FROM workspaces")).scalar_one() == "default"
        assert "identities" in columns(engine)
    finally:
        engine.dispose()


def test_the_head_found_from_file_names_is_alembics_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "seamline.store:migrations")
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()
