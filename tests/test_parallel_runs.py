"""How the suite is spread over pytest-xdist workers (tests/conftest.py, pyproject's addopts)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.conftest import _DeploymentsTogether

ROOT = Path(__file__).resolve().parents[1]


def scope(nodeid: str) -> str:
    # _split_scope reads nothing of the scheduler's state; building one needs a running session.
    scheduler = object.__new__(_DeploymentsTogether)
    return scheduler._split_scope(nodeid)


def test_whole_deployments_share_one_unit_of_work_and_other_files_keep_their_own() -> None:
    deployments = {
        scope(
            "tests/e2e/test_browser.py::test_analytics_next_in_chromium_sends_page_track_identify"
        ),
        scope("tests/e2e/test_crash.py::test_kill"),
        scope("tests/cluster/test_cluster.py::test_roles[3]"),
    }
    assert len(deployments) == 1
    assert scope("tests/log/test_nats.py::test_append[a]") == "tests/log/test_nats.py"
    assert scope("tests/log/test_nats.py::Tests::test_read") == "tests/log/test_nats.py"
    assert scope("tests/test_cli.py::test_x") == "tests/test_cli.py"
    assert deployments.isdisjoint({"tests/test_cli.py", "tests/log/test_nats.py"})


def test_make_test_runs_on_the_cores_with_that_scheduler() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    addopts = options["ini_options"]["addopts"].split()
    assert addopts[addopts.index("-n") + 1] == "logical"
    assert addopts[addopts.index("--dist") + 1] == "loadfile"
