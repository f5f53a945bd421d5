"""A throwaway PostgreSQL server for tests (Debian's postgresql package, started per session).

dreamgen runs on SQLite by default and on PostgreSQL when it outgrows one machine; the queue
tests run against both so the claim query stays correct on each.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed: `apt-get install -y postgresql` "
                           "(.ci/run does this)")
    return Path(candidates[-1]).parent


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start in a temporary folder, trust auth on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="dreamgen-pg-"))
        self.port = _free_port()
        self.data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(_as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A",
                                     "trust", "-U", "postgres", "--no-sync"]),
                       check=True, capture_output=True)
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} " \
                  f"-c unix_socket_directories={self.folder} -c fsync=off"
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o",
                                     options, "-l", str(self.folder / "log"), "-w", "start"]),
                       check=True, capture_output=True)
        self._databases = 0

    def new_database(self) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg

        self._databases += 1
        name = f"test_{self._databases}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, driver="postgresql+psycopg")

    def url(self, database: str, driver: str = "postgresql") -> str:
        """Connection URL for ``database``."""
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server and remove its files."""
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                                     "immediate", "stop"]), capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)
