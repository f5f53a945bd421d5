"""Fixtures for the scaling tests: one shared database (a SQLite file in the shared data
folder, or a throwaway PostgreSQL) and the processes started on it, all killed afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import Engine

from app.db.engine import make_db_engine, upgrade_to_head
from tests.support.cluster import WorkerProcess, cluster_env, web_process
from tests.support.postgres import PostgresServer
from tests.support.server import ServerProcess
from tests.support.shared import shared_dir


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()


@dataclass
class Cluster:
    """A database, a media folder and the dreamgen processes sharing them."""

    folder: Path
    url: str
    db_engine: Engine
    env: dict[str, str]
    workers: list[WorkerProcess] = field(default_factory=list)
    webs: list[ServerProcess] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def media(self) -> Path:
        return self.data_dir / "media"

    def web(self) -> ServerProcess:
        self.webs.append(web_process(self.data_dir, shared_dir("weights"), self.env))
        return self.webs[-1]

    def worker(self, name: str, **env: str) -> WorkerProcess:
        self.workers.append(WorkerProcess(name, self.folder, {**self.env, **env}).start())
        return self.workers[-1]

    def logs(self) -> str:
        parts = [f"--- worker {w.name} (pid {w.pid})\n{w.log()}" for w in self.workers]
        parts += [f"--- web\n{web.log()}" for web in self.webs[:1]]
        return "\n".join(parts)


@pytest.fixture(params=["sqlite", "postgresql"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    if request.param == "sqlite":
        url = f"sqlite:///{(tmp_path / 'data' / 'dreamgen.db').as_posix()}"
        env = cluster_env(tmp_path / "data", "", shared_dir("weights"))
    else:
        url = request.getfixturevalue("postgres").new_database()
        env = cluster_env(tmp_path / "data", url, shared_dir("weights"))
    upgrade_to_head(url)
    built = Cluster(tmp_path, url, make_db_engine(url, pool_size=2), env)
    yield built
    for process in [*built.workers, *built.webs]:
        process.kill()
    print(built.logs())               # pytest shows it when the test failed
    built.db_engine.dispose()
