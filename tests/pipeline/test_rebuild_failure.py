"""`seamline rebuild` fails loudly: a store that stays down fails it with exit code 2, and
records a stage raised on are reported as held instead of being lost."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seamline import cli
from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.ops import rebuild
from seamline.pipeline.batch import Batch
from seamline.pipeline.profiles_stage import UpdateTraits
from seamline.spec import Envelope, Message
from seamline.spec.envelope import envelope_encoder

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _data_dir_with_events(tmp_path: Path, count: int) -> Path:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    source = bootstrap(settings)

    async def fill() -> None:
        app = Seamline(settings)
        await app.start()
        await app.log.append(
            [
                envelope_encoder.encode(
                    Envelope(
                        workspace_id="default",
                        source_id=source.id,
                        message=Message(
                            type="identify",
                            message_id=f"m{i}",
                            user_id=f"u{i}",
                            received_at=NOW,
                            timestamp=NOW,
                        ),
                    )
                )
                for i in range(count)
            ]
        )
        await app.stop()

    asyncio.run(fill())
    return data


def _run_cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["seamline", *args])
    # main() sets the process umask to 077 for the files it makes; in this (pytest's) process
    # that would leave files a later embedded PostgreSQL's initdb cannot read.
    umask = os.umask(0o022)
    os.umask(umask)
    try:
        with pytest.raises(SystemExit) as ended:
            cli.main()
    finally:
        os.umask(umask)
    code = ended.value.code
    return code if isinstance(code, int) else 1


def test_rebuild_exits_non_zero_when_a_store_stays_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data_dir_with_events(tmp_path, 3)

    def down(self: UpdateTraits, batch: Batch) -> Batch:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(UpdateTraits, "__call__", down)
    monkeypatch.setattr(rebuild, "REBUILD_RETRIES", 1)
    code = _run_cli(monkeypatch, "--data-dir", str(data), "rebuild")
    assert code == 2
    err = capsys.readouterr().err
    assert "rebuild stopped at log record 0 of 3" in err
    assert "unable to open database file" in err


def test_rebuild_reports_records_held_with_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _data_dir_with_events(tmp_path, 4)
    original = UpdateTraits.__call__

    def broken(self: UpdateTraits, batch: Batch) -> Batch:
        if any(i.envelope.message.message_id == "m2" for i in batch):
            raise ValueError("cannot take this one")
        return original(self, batch)

    monkeypatch.setattr(UpdateTraits, "__call__", broken)
    code = _run_cli(monkeypatch, "--data-dir", str(data), "rebuild")
    assert code == 0
    captured = capsys.readouterr()
    assert "rebuilt from 4 log records" in captured.out
    assert "1 records failed in a stage and were held" in captured.err
