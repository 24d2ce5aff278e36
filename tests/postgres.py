"""A throwaway PostgreSQL cluster for the storage tests.

One cluster per test session, in a temporary folder, listening on 127.0.0.1 at a free
port; every test gets its own fresh database in it. The binaries come from the Debian/
Ubuntu ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``). PostgreSQL refuses
to run as root, so as root the server runs as the ``postgres`` OS user.

Test modules load the fixtures with ``pytest_plugins = ["tests.postgres"]``, which
registers them once for the whole session however many modules ask.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql

PG_ROOT = Path("/usr/lib/postgresql")
INSTALL_HINT = "PostgreSQL not installed: apt-get install postgresql"


def find_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder holding initdb and pg_ctl."""
    found = [
        folder / "bin"
        for folder in PG_ROOT.glob("*")
        if (folder / "bin" / "initdb").exists() and (folder / "bin" / "pg_ctl").exists()
    ]
    return max(found, key=lambda path: _version(path.parent.name), default=None)


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresCluster:
    """initdb + pg_ctl in a temporary folder; ``create_database`` hands out fresh databases."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="chatlab-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = _free_port()
        self._names = itertools.count(1)
        # PostgreSQL will not run as root; the folder must then belong to its own user.
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_user:
            shutil.chown(self.base, "postgres", "postgres")

    def start(self) -> None:
        """Create the cluster and start the server; waits until it accepts connections."""
        self._run(
            "initdb",
            *("-D", str(self.data), "-U", "postgres", "--auth=trust"),
            *("--no-sync", "--no-locale", "-E", "UTF8"),
        )
        # Durability settings off: the data is thrown away, and a killed client (not the
        # server) is what the storage tests simulate.
        self.resume()

    def resume(self) -> None:
        """Start the server (again); waits until it accepts connections."""
        options = (
            f"-k {self.base} -h 127.0.0.1 -p {self.port}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "start", "-w")

    def pause(self) -> None:
        """Stop the server, keeping its data (an outage; ``resume`` ends it)."""
        self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "fast", "-w")

    def stop(self) -> None:
        """Stop the server and delete the cluster."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "stop", "-m", "fast", "-w")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database for one test, as a SQLAlchemy URL; dropped afterwards."""
        raw_name = f"chatlab_test_{next(self._names)}"
        name = sql.Identifier(raw_name)
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as admin:
            # FILE_COPY (15+) copies the template's files instead of its pages through
            # shared buffers, which would leave them all to write out at shutdown.
            copy = " STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else ""
            admin.execute(sql.SQL("CREATE DATABASE {}" + copy).format(name))
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{raw_name}"
        finally:
            with psycopg.connect(self._dsn("postgres"), autocommit=True) as admin:
                # FORCE (13+) ends connections a failed test may have left open.
                force = " WITH (FORCE)" if admin.info.server_version >= 130000 else ""
                admin.execute(sql.SQL("DROP DATABASE {}" + force).format(name))

    def _dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_user, str(self.bin_dir / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} failed:\n{done.stdout}{done.stderr}\n{log}")


@pytest.fixture
def tables_locked() -> Callable[..., AbstractContextManager[None]]:
    """``tables_locked(url, *tables)``: another session holding tables (below)."""
    return hold_tables


@contextmanager
def hold_tables(url: str, *tables: str) -> Iterator[None]:
    """Another session holds ``tables`` of the database at ``url`` (a SQLAlchemy URL) in
    ACCESS EXCLUSIVE mode, which blocks every read and write of them, until the block ends."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn) as locker:
        names = sql.SQL(", ").join(sql.Identifier(table) for table in tables)
        locker.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(names))
        try:
            yield
        finally:
            locker.rollback()


def _missing() -> NoReturn:
    # On CI a missing server must not turn half the storage suite into quiet skips.
    if os.environ.get("CI") == "true":
        pytest.fail(INSTALL_HINT)
    pytest.skip(INSTALL_HINT)


@contextmanager
def _running_cluster() -> Iterator[PostgresCluster]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _missing()
    cluster = PostgresCluster(bin_dir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A running throwaway cluster, stopped and deleted after the session."""
    with _running_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[PostgresCluster]:
    """A cluster of the module's own: its tests may stop it (``pause``) without disturbing
    other tests' databases."""
    with _running_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database on each backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chatlab.db'}"
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    with cluster.database() as url:
        yield url
