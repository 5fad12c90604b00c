"""A role process imports only what every role needs: the batch engine (Ibis), the NATS client
and the prediction libraries load where they are used, since every `seamline serve` process
(supervisor, collect, pipeline, deliver) pays its imports at each start and restart."""

from __future__ import annotations

import json
import subprocess
import sys

LOADED_WHERE_USED = ("ibis", "sqlglot", "nats", "aiohttp", "sklearn", "scipy")


def test_a_role_process_imports_no_batch_engine_no_nats_client_and_no_predictions() -> None:
    script = (
        "import json, sys\n"
        "import seamline.cli, seamline.app, seamline.roles.process, seamline.roles.supervisor\n"
        f"print(json.dumps(sorted(m for m in {LOADED_WHERE_USED!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_supervisor_starts_roles_without_importing_the_server() -> None:
    """What `serve`'s own process imports before it starts the roles (cli/commands.py,
    `_serve_here`): each role imports the server itself."""
    script = (
        "import sys\n"
        "import seamline.bootstrap, seamline.cli.banner, seamline.metrics, seamline.ports\n"
        "import seamline.roles.locks, seamline.roles.supervisor\n"
        "print('seamline.app' in sys.modules, 'fastapi' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
