"""The server the README's way (``dreamgen serve``) against crowds, slow clients, forged
proxy headers and SIGTERM with a backlog; and the health check."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Callable

import httpx
import pytest

from app.web.limits import RateLimiter
from app.web.server import HEADER_TIMEOUT_S
from tests.support.attacks import STRANGER
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until
from tests.web.conftest import image_files

FORM = {"engine": "microast", "size": "64"}


def post(server: ServerProcess, forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return httpx.post(f"{server.url}/api/jobs", files=image_files(), data=FORM,
                      headers=headers, timeout=60)


def test_a_forged_forwarded_for_does_not_dodge_the_rate_limit(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(DREAMGEN_RATE_LIMIT_PER_MINUTE="2",
                            DREAMGEN_RUN_WORKER="false").start()
    answers = [post(server, f"203.0.113.{i}").status_code for i in range(3)]
    assert answers == [201, 201, 429]                       # all counted as 127.0.0.1


def test_a_trusted_proxy_is_believed_about_its_visitors(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(DREAMGEN_RATE_LIMIT_PER_MINUTE="2", DREAMGEN_RUN_WORKER="false",
                            DREAMGEN_TRUSTED_PROXIES="127.0.0.1").start()
    visitor_a = [post(server, "203.0.113.7").status_code for _ in range(3)]
    assert visitor_a == [201, 201, 429]
    assert post(server, "198.51.100.9").status_code == 201   # another visitor, counted apart


def test_the_rate_limiter_table_is_bounded() -> None:
    limiter = RateLimiter(per_minute=5, max_clients=100)
    for i in range(5000):
        limiter.check(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter) <= 100
    limiter.check("10.0.0.1")                               # forgotten, so allowed again
    with pytest.raises(Exception, match="too many jobs"):
        for _ in range(6):
            limiter.check("192.0.2.1")


def _half_open(port: int) -> socket.socket:
    """A stranger's request that never finishes its headers (from another address than the
    real clients: one address may hold only so many connections)."""
    sock = socket.create_connection(("127.0.0.1", port), source_address=(STRANGER, 0))
    sock.sendall(b"GET /gallery HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")   # never finished
    return sock


def test_idle_half_sent_requests_do_not_block_real_clients(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(DREAMGEN_RUN_WORKER="false").start()
    sockets = [_half_open(server.port) for _ in range(100)]
    try:
        started = time.monotonic()
        for path in ("/", "/gallery", "/api/engines", "/static/style.css", "/healthz"):
            assert httpx.get(f"{server.url}{path}", timeout=10).status_code == 200, path
        assert time.monotonic() - started < HEADER_TIMEOUT_S    # answered, not queued behind
        time.sleep(HEADER_TIMEOUT_S + 2)
        closed = 0
        for sock in sockets:
            sock.settimeout(2)
            try:
                closed += sock.recv(1) == b""
            except (ConnectionResetError, TimeoutError):
                closed += 0
        assert closed == len(sockets), f"only {closed} of {len(sockets)} were timed out"
    finally:
        for sock in sockets:
            sock.close()


def test_one_address_holds_only_so_many_connections_unless_it_is_a_trusted_proxy(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(DREAMGEN_RUN_WORKER="false", DREAMGEN_MAX_CONNECTIONS_PER_CLIENT="5",
                            DREAMGEN_TRUSTED_PROXIES="127.0.0.4").start()
    proxy = [socket.create_connection(("127.0.0.1", server.port), source_address=("127.0.0.4", 0))
             for _ in range(10)]
    stranger = [_half_open(server.port) for _ in range(10)]
    try:
        def refused(sock: socket.socket) -> bool:
            sock.setblocking(False)
            try:
                return sock.recv(64, socket.MSG_PEEK).startswith(b"HTTP/1.1 429")
            except BlockingIOError:
                return False
        wait_until("5 of the stranger's connections to be refused",
             lambda: sum(map(refused, stranger)) == 5, timeout_s=30)
        assert not any(map(refused, proxy))      # accepted before the stranger's, all kept
        assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200
        first = next(sock for sock in stranger if refused(sock))
        first.settimeout(5)
        assert b"too many open connections from your address (the limit is 5)" in \
            first.recv(4096)
    finally:
        for sock in proxy + stranger:
            sock.close()


def test_sigterm_with_a_backlog_ends_within_ten_seconds(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory().start()
    long = httpx.post(f"{server.url}/api/jobs", files=image_files(), timeout=60,
                      data={"engine": "gatys-lite", "size": "64", "iterations": "2000"}).json()
    queued = [post(server).json()["id"] for _ in range(8)]
    wait_until("the long job to run", lambda: httpx.get(f"{server.url}/api/jobs/{long['id']}",
                                                   timeout=30).json()["state"] == "running")

    async def open_streams() -> list[asyncio.Task]:
        client = httpx.AsyncClient(timeout=None)
        return [asyncio.create_task(client.get(f"{server.url}/api/jobs/{job}/events"))
                for job in [long["id"], *queued[:4]]]

    loop = asyncio.new_event_loop()
    loop.run_until_complete(open_streams())                  # event streams left open
    slow = [_half_open(server.port) for _ in range(5)]
    took = server.stop(timeout_s=30)
    assert took < 10, f"SIGTERM took {took:.1f} s"
    for sock in slow:
        sock.close()
    loop.close()
    again = server.start()                                   # nothing was lost
    for job_id in [long["id"], *queued]:
        state = httpx.get(f"{again.url}/api/jobs/{job_id}", timeout=30).json()["state"]
        assert state in ("queued", "running", "succeeded"), (job_id, state)
    assert "put back in the queue (worker stopping)" in again.log()
