"""The data directory holds the PII salt, secret.key (which unseals every destination secret),
the state database and every accepted message: it is 0700 and its files 0600 whatever the
umask of whoever started Seamline, and a data directory that others could open is closed."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from seamline.app import bootstrap
from seamline.config import Settings
from tests.e2e.server import Server, run_cli


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """Children started inside inherit `mask`, as from a shell with `umask 000`."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_serve_under_umask_0_keeps_the_data_directory_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # made by hand beforehand, readable by everyone
    os.chmod(data, 0o777)
    with umask(0):
        server = Server(data).start()
        try:
            token = run_cli(data, "tokens", "create", "--name", "t", "--json")["token"]
            auth = {"Authorization": f"Bearer {token}"}
            function = {"code": "def transform(event):\n    return event\n", "time_limit": 2}
            answer = httpx.put(f"{server.url}/api/v1/functions/tag", json=function, headers=auth)
            assert answer.status_code == 200, answer.text
            event = {"userId": "ann", "event": "Signed Up", "traits": {"email": "a@b.c"}}
            sent = httpx.post(f"{server.url}/v1/track", json=event, auth=(server.write_key, ""))
            assert sent.status_code == 200, sent.text
            for _ in range(300):
                if run_cli(data, "events", "count", "--json")["stored"] >= 1:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("the event was not stored")
        finally:
            server.stop()
    found = modes(data)
    for expected in (
        "state.db",
        "secret.key",
        "events",
        "pipeline/dedup.sqlite",
        "pipeline/progress.json",
        "functions",
        "log/0/consumers",
    ):
        assert expected in found, sorted(found)
    assert any(name.startswith("log/") for name in found), sorted(found)
    loose = {
        name: oct(mode)
        for name, mode in found.items()
        if mode != (0o700 if (data / name).is_dir() else 0o600)
    }
    assert loose == {}, sorted(found)


def test_opening_a_data_directory_closes_it_to_others(tmp_path: Path) -> None:
    data = tmp_path / "nested" / "data"
    with umask(0o002):
        bootstrap(Settings(data_dir=data))
        assert stat.S_IMODE(data.stat().st_mode) == 0o700  # made private
        os.chmod(data, 0o755)
        bootstrap(Settings(data_dir=data))
        assert stat.S_IMODE(data.stat().st_mode) == 0o700  # closed again
        assert os.umask(0o002) == 0o002  # the embedding process's umask is left alone
