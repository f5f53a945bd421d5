"""Helpers for the install tests: a bare environment (empty HOME, no ``DREAMGEN_*``), a
start-up hook that refuses network access, subprocesses with deadlines, waiting for a server."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
REFUSED = "network access refused by the install test"

# Imported by every Python process that has the guard's folder on PYTHONPATH (engine child
# processes too): only Unix sockets and loopback addresses may be connected to or resolved.
NETWORK_GUARD = f'''"""dreamgen's install tests: no network access but loopback and Unix sockets."""
import ipaddress
import socket

_connect, _connect_ex, _getaddrinfo = (socket.socket.connect, socket.socket.connect_ex,
                                       socket.getaddrinfo)


def _is_local(host):
    if str(host).lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(sock, address):
    if sock.family == socket.AF_UNIX or _is_local(address[0]):
        return
    raise OSError(101, f"{REFUSED}: {{address!r}}")


def _guarded_connect(self, address):
    _check(self, address)
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    _check(self, address)
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_local(host):
        raise socket.gaierror(socket.EAI_NONAME, f"{REFUSED}: {{host!r}}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo
'''


def write_network_guard(folder: Path) -> Path:
    """A folder holding a ``sitecustomize.py`` that refuses network access; put it on
    PYTHONPATH."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(NETWORK_GUARD)
    return folder


def bare_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment like a fresh account's: ``home`` as HOME (and the cache under it), no
    ``DREAMGEN_*`` or Python variables from this one, plus ``extra``."""
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), **extra)
    return env


def run(command: list[str | Path], timeout_s: float = 300, **kwargs: object) -> str:
    """Run ``command``; return its stdout and stderr together, failing the test (with that
    output) on a non-zero exit."""
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                          timeout=timeout_s, **kwargs)  # type: ignore[call-overload]
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} exited with {done.returncode}:\n{output}")
    return output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float = 120.0) -> None:
    """Poll ``url`` until it answers 200, failing if ``process`` exits or time runs out."""
    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode} before answering")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(f"{url} to answer", answers, timeout_s, every_s=0.2)
