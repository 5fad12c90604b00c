"""`seamline retention show|set|expire` and the retention line of `seamline status`."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from seamline.data_dir import DataDir
from seamline.log.base import PIPELINE_CONSUMER, position
from seamline.log.partitions import LocalPartitions
from seamline.store.events_lake import LakeEventStore
from seamline.store.state import open_state_store, partition_leases
from tests.log.test_expire import record
from tests.pipeline.test_runner import item
from tests.test_cli import cli, initialised

OLD = datetime.now(UTC) - timedelta(days=40)
NEW = datetime.now(UTC) - timedelta(days=1)


def test_a_bad_setting_exits_2_with_one_line_listing_the_choices(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    done = cli("--data-dir", data, "retention", "set", "60d")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "30d, 90d, 180d, 365d, 3y, unlimited" in done.stderr
    shown = json.loads(cli("--data-dir", data, "retention", "show", "--json").stdout)
    assert shown == {"retention": "unlimited", "last_run": None}


def test_set_show_and_expire_without_a_server(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    paths = DataDir(Path(data))
    # History as a pipeline left it: a log partition committed to its end, and the lake.
    log = LocalPartitions(paths.log, fsync=False, segment_bytes=64)
    writer = log.claim(0)
    for payload in [record("o0", OLD), record("o1", OLD), record("n0", NEW)]:
        writer.submit([payload])
    asyncio.run(log.commit(PIPELINE_CONSUMER, 0, 3))
    log.close_sync()
    engine = open_state_store(paths.state_url())
    lake = LakeEventStore(paths.events, engine, compact=False)
    lake.write([item(position(0, 0), "o0", at=OLD), item(position(0, 1), "o1", at=OLD)])
    lake.write([item(position(0, 2), "n0", at=NEW)])
    lake.close()
    engine.dispose()

    nothing = cli("--data-dir", data, "retention", "expire")
    assert nothing.returncode == 0 and "nothing to expire" in nothing.stdout

    assert cli("--data-dir", data, "retention", "set", "30d").returncode == 0
    done = cli("--data-dir", data, "retention", "expire", "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert (run["events"], run["event_files"]) == (2, 1)
    assert (run["log_records"], run["log_segments"]) == (2, 2)
    assert sorted(p.name for p in (paths.log / "0").glob("*.log")) == [f"{2:020d}.log"]

    shown = json.loads(cli("--data-dir", data, "retention", "show", "--json").stdout)
    assert shown["retention"] == "30d" and shown["last_run"]["events"] == 2
    status = cli("--data-dir", data, "status")
    assert status.returncode == 0, status.stderr
    assert "retention: default 30d" in status.stdout and "2 stored events" in status.stdout


def test_expire_is_left_to_pipeline_workers_holding_the_partitions(tmp_path: Path) -> None:
    data = initialised(tmp_path)
    engine = open_state_store(DataDir(Path(data)).state_url())
    with engine.begin() as conn:
        conn.execute(
            insert(partition_leases).values(
                consumer=PIPELINE_CONSUMER,
                log_partition=0,
                owner="host-b:42:abc",
                expires_at=datetime.now(UTC) + timedelta(minutes=5),
                epoch=1,
            )
        )
    engine.dispose()
    assert cli("--data-dir", data, "retention", "set", "30d").returncode == 0
    done = cli(
        "--data-dir", data, "retention", "expire", env={"SEAMLINE_LOG_URL": "nats://127.0.0.1:9"}
    )
    assert done.returncode == 2
    assert "1 pipeline workers hold the log's partitions" in done.stderr
    assert done.stderr.strip().count("\n") == 0
