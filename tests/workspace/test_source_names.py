"""Source names pick sources in `apply`, so a workspace has one source per name (ignoring
case). Duplicates made before that rule stay (nothing is lost); `apply` then refuses to guess."""

from __future__ import annotations

import shlex
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from seamline.app import bootstrap
from seamline.collect.sources import new_source
from seamline.config import Settings
from seamline.errors import Conflict, InvalidInput
from seamline.store.sources_sql import SqlSourceStore
from seamline.store.state import open_state_store, sources
from seamline.workspace.apply import source_ids
from tests.test_cli import cli


def test_a_second_source_of_the_same_name_is_refused(engine: Engine) -> None:
    store = SqlSourceStore(engine)
    store.ensure_workspace("w", "W")
    store.ensure_workspace("other", "Other")
    first = store.create(new_source("Website", "w"))
    for name in ("Website", "website", " WEBSITE "):
        with pytest.raises(Conflict) as refused:
            store.create(new_source(name, "w"))
        assert first.id in refused.value.message and "'Website'" in refused.value.message
        assert refused.value.details == {"source_id": first.id}
    store.create(new_source("Website", "other"))  # another workspace: its own names
    store.create(new_source("Web shop", "w"))
    assert [s.name for s in store.list("w")] == ["Website", "Web shop"]


def test_apply_refuses_a_name_that_stored_sources_share(engine: Engine) -> None:
    store = SqlSourceStore(engine)
    store.ensure_workspace("w", "W")
    made = [new_source("Website", "w"), new_source("website", "w")]
    with engine.begin() as conn:  # as an older version let them be made
        for source in made:
            conn.execute(insert(sources).values(**_row(source)))
    source_id = source_ids(store.list("w"), "w")
    with pytest.raises(InvalidInput) as ambiguous:
        source_id("Website")
    assert "2 sources" in ambiguous.value.message
    assert made[0].id in ambiguous.value.message and made[1].id in ambiguous.value.message
    assert source_id(made[1].id) == made[1].id  # an id is never ambiguous


def test_roles_starting_together_on_one_database_share_the_development_source(
    tmp_path: Path, postgres_url: str
) -> None:
    """Each `serve --role R` bootstraps the workspace; started at once (compose, the cluster
    test), those that lose the race to create the development source take the winner's."""
    open_state_store(postgres_url).dispose()  # migrated first, as `seamline init` does
    settings = Settings(data_dir=tmp_path / "unused", database_url=postgres_url)
    together = threading.Barrier(6)
    made: list[str] = []
    refused: list[Conflict] = []

    def start_a_role() -> None:
        together.wait()
        try:
            made.append(bootstrap(settings).id)
        except Conflict as error:
            refused.append(error)

    roles = [threading.Thread(target=start_a_role) for _ in range(6)]
    for role in roles:
        role.start()
    for role in roles:
        role.join()
    assert refused == []
    assert len(made) == 6 and len(set(made)) == 1


def _row(source: object) -> dict[str, object]:
    from msgspec import structs

    return structs.asdict(source)  # type: ignore[arg-type]


def made_data_dir(path: Path) -> Path:
    """A data directory as `serve` leaves it (state store and development source)."""
    bootstrap(Settings(data_dir=path))
    return path


def test_sources_create_refuses_a_taken_name_with_exit_2(tmp_path: Path) -> None:
    data = str(made_data_dir(tmp_path / "d"))
    made = cli("--data-dir", data, "sources", "create", "Website", "--json")
    assert made.returncode == 0, made.stderr
    again = cli("--data-dir", data, "sources", "create", "website")
    assert again.returncode == 2
    assert "already has a source named 'Website'" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    listed = cli("--data-dir", data, "sources", "list", "--json")
    assert listed.stdout.count('"Website"') == 1


def test_apply_suggests_a_command_that_works_and_fails_on_ambiguous_names(
    tmp_path: Path,
) -> None:
    data = made_data_dir(tmp_path / "d")
    assert cli("--data-dir", str(data), "sources", "create", "Website").returncode == 0
    file = tmp_path / "workspace.yaml"
    file.write_text("sources:\n  Mobile App: {schema_controls: {unplanned_events: block}}\n")
    missing = cli("--data-dir", str(data), "apply", "-f", str(file), "--yes")
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "sources.Mobile App: no source named 'Mobile App'" in missing.stderr
    suggested = missing.stderr.split("`")[1]
    assert suggested == "seamline sources create 'Mobile App'"
    words = shlex.split(suggested)
    created = cli("--data-dir", str(data), *words[1:])
    assert created.returncode == 0, created.stderr
    applied = cli("--data-dir", str(data), "apply", "-f", str(file), "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "applied 1 change(s)" in applied.stdout

    with sqlite3.connect(data / "state.db") as db:  # a duplicate an older version allowed
        db.execute(
            "INSERT INTO sources (id, workspace_id, name, write_key, enabled, created_at) "
            "VALUES ('src_old', 'default', 'mobile app', 'wk-old', 1, ?)",
            (datetime.now(UTC).isoformat(),),
        )
    ambiguous = cli("--data-dir", str(data), "apply", "-f", str(file), "--yes")
    assert ambiguous.returncode == 2
    assert "sources.Mobile App: 2 sources of workspace 'default' are named 'Mobile App'" in (
        ambiguous.stderr
    )
    assert "src_old" in ambiguous.stderr
