"""The function sandbox: each test is a user function that tries one escape, and the escape fails
while the event gets an `error` outcome like any other exception (ordinary work still runs)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seamline.protocols.functions import FunctionRunner, Outcome
from seamline.protocols.sandbox import worker_user


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory laid out as the server's, owned by the user the worker runs as and
    reachable by everyone, so that neither file modes nor the worker's uid keep the function
    out: only the sandbox does. (pytest's own temporary tree is private to root.)"""
    base = Path(tempfile.mkdtemp(prefix="seamline-sandbox-test-"))
    base.chmod(0o755)
    directory = base / "data"
    (directory / "functions").mkdir(parents=True)
    (directory / "secret.key").write_text("the key to every sealed secret")
    (directory / "secret.key").chmod(0o644)
    for path in (directory, directory / "functions"):
        path.chmod(0o755)
    if os.geteuid() == 0:
        user = worker_user()
        for path in (directory, directory / "functions", directory / "secret.key"):
            os.chown(path, user.uid, user.gid)
    yield directory
    shutil.rmtree(base)


@pytest.fixture
def run(data_dir: Path) -> Iterator[Any]:
    """run(source) -> the outcome of one event through a function kept in the data directory."""
    runners: list[FunctionRunner] = []

    def run_one(source: str, event: dict[str, Any] | None = None) -> Outcome:
        path = data_dir / "functions" / f"function_{len(runners)}.py"
        path.write_text(textwrap.dedent(source))
        runner = FunctionRunner(path, name="escape")
        runners.append(runner)
        [outcome] = runner.run([event or {"type": "track", "event": "E"}])
        return outcome

    yield run_one
    for runner in runners:
        runner.close()


def assert_refused(outcome: Outcome) -> None:
    assert outcome.kind == "error", outcome
    assert outcome.error is not None and "PermissionError" in outcome.error, outcome.error


@pytest.mark.parametrize(
    "target",
    ["{data}/secret.key", "{data}/functions/function_0.py", "/etc/passwd", "/etc/shadow"],
)
def test_a_function_cannot_read_the_data_directory_or_system_files(
    run: Any, data_dir: Path, target: str
) -> None:
    path = target.format(data=data_dir)
    outcome = run(f"""
        def transform(event):
            with open({path!r}) as file:
                event["stolen"] = file.read()
            return event
    """)
    assert_refused(outcome)


def test_a_function_cannot_list_the_data_directory(run: Any, data_dir: Path) -> None:
    outcome = run(f"""
        import os

        def transform(event):
            event["listing"] = os.listdir({str(data_dir)!r})
            return event
    """)
    assert_refused(outcome)


def test_a_function_cannot_read_the_servers_environment_through_proc(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEAMLINE_SECRET", "hunter2")
    outcome = run("""
        import os

        def transform(event):
            with open(f"/proc/{os.getppid()}/environ", "rb") as file:
                event["environ"] = file.read().decode(errors="replace")
            return event
    """)
    assert_refused(outcome)


def test_a_function_gets_an_empty_environment(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEAMLINE_SECRET", "hunter2")
    outcome = run("""
        import os

        def transform(event):
            return {**event, "environ": dict(os.environ)}
    """)
    assert outcome.kind == "ok" and outcome.event is not None
    assert outcome.event["environ"] == {}


def test_a_function_cannot_connect_to_a_listening_server(run: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        outcome = run(f"""
            import socket

            def transform(event):
                socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
                return event
        """)
        assert_refused(outcome)
        # A connection the kernel had accepted would be waiting here by now.
        with pytest.raises(BlockingIOError):
            server.accept()


@pytest.mark.parametrize(
    ("family", "kind"),
    [
        ("AF_INET", "SOCK_DGRAM"),
        ("AF_INET6", "SOCK_STREAM"),
        ("AF_UNIX", "SOCK_STREAM"),
        ("AF_NETLINK", "SOCK_RAW"),
    ],
)
def test_a_function_cannot_create_any_socket(run: Any, family: str, kind: str) -> None:
    outcome = run(f"""
        import socket

        def transform(event):
            socket.socket(socket.{family}, socket.{kind}).close()
            return event
    """)
    assert_refused(outcome)


@pytest.mark.parametrize(
    "escape",
    [
        "open(data + '/escaped.txt', 'w').close()",
        "open(data + '/secret.key', 'w').write('overwritten')",
        "os.remove(data + '/secret.key')",
        "os.rename(data + '/secret.key', data + '/moved.key')",
        "os.truncate(data + '/secret.key', 0)",
        "os.chmod(data + '/secret.key', 0)",
        "os.utime(data + '/secret.key', (0, 0))",
        "os.symlink('/etc/passwd', data + '/link')",
        "os.mkdir(data + '/made')",
    ],
    ids=[
        "create",
        "overwrite",
        "remove",
        "rename",
        "truncate",
        "chmod",
        "utime",
        "symlink",
        "mkdir",
    ],
)
def test_a_function_cannot_change_the_data_directory(run: Any, data_dir: Path, escape: str) -> None:
    key = data_dir / "secret.key"
    before = (sorted(os.listdir(data_dir)), key.stat())
    outcome = run(f"""
        import os

        data = {str(data_dir)!r}

        def transform(event):
            {escape}
            return event
    """)
    assert_refused(outcome)
    assert (sorted(os.listdir(data_dir)), key.stat()) == before
    assert key.read_text() == "the key to every sealed secret"


def test_a_function_works_in_a_private_empty_directory_removed_afterwards(
    data_dir: Path,
) -> None:
    path = data_dir / "functions" / "scratch.py"
    path.write_text(
        textwrap.dedent("""
        import os, tempfile

        def transform(event):
            before = sorted(os.listdir("."))
            with open("scratch.txt", "w") as file:
                file.write("mine")
            with tempfile.NamedTemporaryFile() as temporary:
                temporary.write(b"also mine")
            return {**event, "cwd": os.getcwd(), "before": before}
    """)
    )
    with FunctionRunner(path, name="scratch") as runner:
        [first] = runner.run([{"type": "track", "event": "E"}])
        [second] = runner.run([{"type": "track", "event": "E"}])
    assert first.kind == "ok" and first.event is not None, first
    assert second.kind == "ok" and second.event is not None, second
    assert first.event["before"] == []
    assert second.event["before"] == ["scratch.txt"]  # the same worker keeps its directory
    cwd = Path(first.event["cwd"])
    assert cwd != Path.cwd() and not cwd.is_relative_to(data_dir)
    assert not cwd.exists()


@pytest.mark.parametrize(
    "escape",
    [
        "subprocess.run(['true'], check=True)",
        "os.execv('/bin/true', ['true'])",
        "os.posix_spawn('/bin/true', ['true'], {})",
    ],
    ids=["subprocess", "exec", "posix_spawn"],
)
def test_a_function_cannot_run_a_program(run: Any, escape: str) -> None:
    outcome = run(f"""
        import os, subprocess

        def transform(event):
            {escape}
            return event
    """)
    assert_refused(outcome)


def test_a_function_cannot_fork(run: Any) -> None:
    outcome = run("""
        import os

        def transform(event):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            return event
    """)
    assert_refused(outcome)


def test_a_function_cannot_signal_the_server(run: Any) -> None:
    outcome = run("""
        import os

        def transform(event):
            os.kill(os.getppid(), 0)  # signal 0 only checks that it could
            return event
    """)
    assert_refused(outcome)


def test_a_function_cannot_lift_its_memory_limit(run: Any) -> None:
    outcome = run("""
        import resource

        def transform(event):
            infinity = resource.RLIM_INFINITY
            resource.setrlimit(resource.RLIMIT_AS, (infinity, infinity))
            return event
    """)
    assert outcome.kind == "error", outcome
    assert outcome.error is not None and "ValueError" in outcome.error


def test_a_function_runs_as_an_unprivileged_user_that_cannot_regain_root(run: Any) -> None:
    outcome = run("""
        import os

        def transform(event):
            try:
                os.setuid(0)
                regained = True
            except PermissionError:
                regained = False
            return {
                **event,
                "uids": os.getresuid(),
                "gids": os.getresgid(),
                "groups": os.getgroups(),
                "regained": regained,
            }
    """)
    assert outcome.kind == "ok" and outcome.event is not None, outcome
    seen = outcome.event
    assert seen["regained"] is False
    if os.geteuid() == 0:  # the server runs as root (CI does): the worker must not
        assert 0 not in seen["uids"] and 0 not in seen["gids"]
        assert seen["groups"] == []
    else:  # an unprivileged server: the worker is its user, and no more
        assert seen["uids"] == [os.getuid()] * 3


def test_ordinary_transformations_keep_the_standard_library_and_threads(run: Any) -> None:
    outcome = run(
        """
        import datetime, decimal, hashlib, json, re, threading, zoneinfo

        def transform(event):
            email = event["traits"]["email"].strip().lower()
            results = []
            worker = threading.Thread(target=lambda: results.append(len(email)))
            worker.start()
            worker.join()
            when = datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
            return {
                **event,
                "traits": {
                    "email_sha256": hashlib.sha256(email.encode()).hexdigest(),
                    "domain": re.sub(r"^.*@", "", email),
                    "length": results[0],
                    "total": str(decimal.Decimal("1.10") * 3),
                    "offset": when.utcoffset().total_seconds(),
                    "json": json.dumps({"a": 1}),
                },
            }
        """,
        {"type": "identify", "userId": "u1", "traits": {"email": " Ann@Example.com "}},
    )
    assert outcome.kind == "ok" and outcome.event is not None, outcome
    assert outcome.event["traits"] == {
        "email_sha256": "71d4f55f72fa128dfb468a1a3901507c804b74316488744d769d7f4b16696476",
        "domain": "example.com",
        "length": 15,
        "total": "3.30",
        "offset": 3600.0,
        "json": '{"a": 1}',
    }


# A kernel without Landlock, or without seccomp, is emulated the way a container runtime's
# profile makes it look: the syscall answers ENOSYS. This child process installs that filter
# (inherited by the worker), then tries to start a function.
_WITHOUT = """
import errno, sys
from pathlib import Path
from seamline.errors import InvalidInput
from seamline.protocols.sandbox import seccomp, syscalls
from seamline.protocols.functions import FunctionRunner

seccomp.install(seccomp.deny_filter({{syscalls.number({syscall!r}): errno.ENOSYS}}))
try:
    FunctionRunner(Path(sys.argv[1]), name="plain")
except InvalidInput as error:
    print(error.message)
else:
    print("ran unsandboxed")
"""


@pytest.mark.parametrize(
    ("syscall", "missing"),
    [
        ("landlock_create_ruleset", "Landlock"),
        ("seccomp", "seccomp"),
    ],
)
def test_without_a_sandbox_feature_a_function_refuses_to_load(
    tmp_path: Path, syscall: str, missing: str
) -> None:
    path = tmp_path / "plain.py"
    path.write_text("def transform(event):\n    return event\n")
    script = _WITHOUT.format(syscall=syscall)
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert message.startswith("function 'plain' cannot run in the sandbox:"), message
    assert missing in message and "ran unsandboxed" not in message
