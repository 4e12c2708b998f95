"""A real PostgreSQL server for the tests: Debian's binaries (initdb, pg_ctl in
/usr/lib/postgresql/*/bin), run as the unprivileged `postgres` user when the tests run as
root (PostgreSQL refuses root), in a temporary folder, listening on 127.0.0.1 on a free port
and on a unix socket in that folder, trust authentication, fsync off. One server per
pytest-xdist worker (session-scoped), a fresh database per test; the workers' servers start
on copies of the folder the run's first one initialized. Stopped at the end
(`pg_ctl stop -m immediate`), whatever happened; a watchdog process stops it too if the
test process dies without a word (kill -9).

Missing binaries fail the tests that need them, with how to install them (`make
postgresql`): never a silent skip.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.run_cache import made_once

USER = "postgres"
START_TIMEOUT = 60  # seconds pg_ctl waits for the server to take connections
_names = itertools.count(1)


class PostgresMissing(RuntimeError):
    """Debian's PostgreSQL server is not installed."""


def binaries() -> Path:
    """The newest installed version's bin folder."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parent.parent.name)
                   if Path(path).parent.parent.name.isdigit() else 0)
    if not found:
        raise PostgresMissing(
            "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb):"
            " run `make postgresql` (apt-get install postgresql) to run these tests")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One server in a folder of its own; `url(name)` of one of its databases."""

    def __init__(self) -> None:
        self.bin = binaries()
        self.root = Path(tempfile.mkdtemp(prefix="pg-test-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._as_root = os.geteuid() == 0
        self._watchdog: subprocess.Popen | None = None
        if self._as_root:
            # The server runs as `postgres`: its folder must be that user's.
            entry = pwd.getpwnam(USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                                cwd=self.root, check=False)
        if check and result.returncode:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):"
                               f" {result.stderr.strip() or result.stdout.strip()}"
                               f"{self._log_tail()}")
        return result

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\nserver log:\n" + "\n".join(self.log.read_text().splitlines()[-20:])
        return ""

    def initdb(self) -> None:
        """The server's folder initialized (its catalogs, settings, template databases)."""
        self._run("initdb", "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")

    def start(self, initialized: Path | None = None) -> PostgresServer:
        """Started, on a copy of the folder `initialized` (another server's, never
        started: initdb takes seconds of CPU, a copy a fraction), or initialized here."""
        if initialized is None:
            self.initdb()
        elif not self.data.exists():
            _copy(initialized, self.data)
        for attempt in range(3):  # a free port taken by someone else in between: another
            self.port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root}"
                       " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                       " -c max_connections=100 -c shared_buffers=64MB")
            result = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o",
                               options, "-w", "-t", str(START_TIMEOUT), "start",
                               check=attempt == 2)
            if result.returncode == 0:
                break
        self._start_watchdog()
        return self

    def _start_watchdog(self) -> None:
        """Stops the server and removes its folder once this process is gone, however it
        ended: the server's life is bounded by the tests'."""
        stop = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
        if self._as_root:
            stop = ["runuser", "-u", USER, "--", *stop]
        script = (
            "import os, shutil, subprocess, sys, time\n"
            "parent, stop, root = int(sys.argv[1]), sys.argv[2:-1], sys.argv[-1]\n"
            "while True:\n"
            "    try:\n"
            "        os.kill(parent, 0)\n"
            "    except ProcessLookupError:\n"
            "        break\n"
            "    time.sleep(1)\n"
            "subprocess.run(stop, capture_output=True)\n"
            "shutil.rmtree(root, ignore_errors=True)\n")
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", script, str(os.getpid()), *stop, str(self.root)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.data.exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop",
                          check=False)
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run `sql` as the superuser, outside any transaction (CREATE DATABASE)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new empty database: its name."""
        name = f"test_{os.getpid()}_{next(_names)}"
        self.admin(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        # FORCE: a store a failed test left open must not keep the database.
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _copy(source: Path, target: Path) -> None:
    """A server's folder copied with its owner and modes (PostgreSQL checks them)."""
    subprocess.run(["cp", "-a", str(source), str(target)], check=True, capture_output=True,
                   timeout=120)


@contextlib.contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A server for the `with` (the benches' way); stopped at its end."""
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """This worker's server, started at its first use, on a copy of the folder the run's
    first server initialized (tests/support/run_cache.py)."""
    try:
        server = PostgresServer()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        def initialized(folder: Path) -> None:
            server.initdb()
            _copy(server.data, folder / "data")

        shared = made_once(tmp_path_factory, f"postgres-{server.bin.parent.name}-initdb",
                           initialized)
        yield server.start(initialized=shared / "data")
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database of its own for the test, dropped after it."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
