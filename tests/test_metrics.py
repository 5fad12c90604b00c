"""The processes of one data directory add up on `/metrics`: each writes its counts to a snapshot
file, a scrape sums them; gauges computed at scrape time are never summed."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from seamline.metrics import Metrics, clear_shared, shared_dir


def scrape(metrics: Metrics) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith("seamline_"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


ACCEPTED = 'seamline_ingest_messages_total{outcome="accepted"}'


def test_a_scrape_sums_the_counts_of_every_process_of_the_directory(tmp_path: Path) -> None:
    shared = shared_dir(tmp_path)
    collect_a, collect_b = Metrics(shared, "collect"), Metrics(shared, "collect")
    pipeline = Metrics(shared, "pipeline")
    collect_a.accepted.inc(3)
    collect_b.accepted.inc(4)
    collect_a.append_seconds.observe(0.0007)
    collect_b.append_seconds.observe(0.2)
    pipeline.pipeline_processed.inc(7)
    for process in (collect_b, pipeline):
        process.share.write()

    found = scrape(collect_a)
    assert found[ACCEPTED] == 7
    assert found["seamline_pipeline_messages_total"] == 7
    assert found['seamline_log_append_seconds_bucket{le="0.001"}'] == 1
    assert found['seamline_log_append_seconds_bucket{le="0.25"}'] == 2
    assert found["seamline_log_append_seconds_count"] == 2
    assert not any(name.endswith("_created") for name in found)  # per-process timestamps
    # The scrape wrote collect_a's own snapshot, so the other worker now sees the same.
    assert scrape(collect_b)[ACCEPTED] == 7
    files = sorted(shared.glob("*.json"))
    assert len(files) == 3
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)


def test_gauges_computed_at_scrape_time_are_not_summed(tmp_path: Path) -> None:
    shared = shared_dir(tmp_path)
    one, other = Metrics(shared, "collect"), Metrics(shared, "collect")
    for process in (one, other):
        process.dead_letters.set(4)
        process.log_lag.labels("0").set(10)
        process.share.write()
    found = scrape(one)
    assert found["seamline_dead_letters"] == 4
    assert found['seamline_log_lag{partition="0"}'] == 10


def test_a_restarted_process_neither_double_counts_nor_resets(tmp_path: Path) -> None:
    shared = shared_dir(tmp_path)
    scraper = Metrics(shared, "collect")
    dead = Metrics(shared, "pipeline")
    dead.pipeline_processed.inc(5)
    dead.share.write()
    assert scrape(scraper)["seamline_pipeline_messages_total"] == 5
    del dead  # its snapshot stays behind
    restarted = Metrics(shared, "pipeline")
    restarted.pipeline_processed.inc(2)
    restarted.share.write()
    assert scrape(scraper)["seamline_pipeline_messages_total"] == 7

    clear_shared(shared)  # a supervisor starting: counters start again from zero
    assert scrape(scraper)["seamline_pipeline_messages_total"] == 0


def test_without_a_directory_a_process_shows_its_own_counts(tmp_path: Path) -> None:
    alone = Metrics()
    alone.accepted.inc(2)
    assert scrape(alone)[ACCEPTED] == 2
    assert not (tmp_path / "run").exists()


def test_a_damaged_snapshot_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = shared_dir(tmp_path)
    shared.mkdir(parents=True)
    (shared / "collect-1-abc.json").write_text("{not json")
    scraper = Metrics(shared, "collect")
    scraper.accepted.inc(1)
    with caplog.at_level(logging.WARNING, logger="seamline.metrics"):
        assert scrape(scraper)[ACCEPTED] == 1
    assert "collect-1-abc.json skipped" in caplog.text


def test_stage_totals_count_what_is_new_since_the_last_commit() -> None:
    metrics = Metrics()
    held = {"plan": 1, "privacy": 0, "error": 0}
    metrics.pipeline_totals(duplicates=2, suppressed=0, held=held, violations=3, engage_changes=0)
    held = {"plan": 1, "privacy": 2, "error": 1}
    metrics.pipeline_totals(duplicates=5, suppressed=1, held=held, violations=3, engage_changes=4)
    found = scrape(metrics)
    assert found['seamline_pipeline_dropped_total{reason="duplicate"}'] == 5
    assert found['seamline_pipeline_dropped_total{reason="suppressed"}'] == 1
    assert found['seamline_pipeline_held_total{reason="plan"}'] == 1
    assert found['seamline_pipeline_held_total{reason="privacy"}'] == 2
    assert found['seamline_pipeline_held_total{reason="error"}'] == 1
    assert found["seamline_protocols_violations_total"] == 3
    assert found["seamline_engage_changes_total"] == 4
