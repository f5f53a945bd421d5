"""A crowd of concurrent readers against a running server (for the load test and
bench/load.py): every request's status (or the error that replaced it) and its latency.
The readers come from several loopback addresses (127.0.1.x), as a crowd of people would."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

import httpx

READERS_PER_ADDRESS = 25       # readers sharing one client address (127.0.1.x)


@dataclass
class CrowdResult:
    """What the readers saw: one entry per request."""

    statuses: list[int] = field(default_factory=list)       # 0: no answer (an error)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def failures(self) -> int:
        return sum(1 for s in self.statuses if s == 0 or s >= 500)


async def _reader(client: httpx.AsyncClient, paths: "itertools.cycle[str]", count: int,
                  result: CrowdResult) -> None:
    for _ in range(count):
        path = next(paths)
        started = time.perf_counter()
        try:
            status = (await client.get(path)).status_code
        except httpx.HTTPError as exc:
            status = 0
            result.errors.append(f"{path}: {type(exc).__name__}")
        result.statuses.append(status)
        result.latencies.append(time.perf_counter() - started)


def _rotated(paths: list[str], start: int) -> "itertools.cycle[str]":
    """The paths in a loop, reader ``start`` beginning at a different one than its neighbour."""
    start %= len(paths)
    return itertools.cycle(paths[start:] + paths[:start])


def _client(url: str, address: str, readers: int, timeout_s: float) -> httpx.AsyncClient:
    # keep-alive shorter than the server's 5 s, so no request goes out on a connection the
    # server is just closing (that is a client race, not a server error)
    limits = httpx.Limits(max_connections=readers, max_keepalive_connections=readers,
                          keepalive_expiry=4.0)
    transport = httpx.AsyncHTTPTransport(local_address=address, limits=limits)
    return httpx.AsyncClient(base_url=url, timeout=timeout_s, transport=transport)


async def _crowd(url: str, paths: list[str], readers: int, total: int,
                 timeout_s: float) -> CrowdResult:
    result = CrowdResult()
    # many people, so many addresses: a few readers share each one, as a household would,
    # and no address holds more connections than the server allows one client
    groups = -(-readers // READERS_PER_ADDRESS)
    clients = [_client(url, f"127.0.1.{g + 1}", READERS_PER_ADDRESS, timeout_s)
               for g in range(groups)]
    try:
        started = time.perf_counter()
        shares = [total // readers + (1 if i < total % readers else 0) for i in range(readers)]
        await asyncio.gather(*(_reader(clients[i % groups], _rotated(paths, i), share, result)
                               for i, share in enumerate(shares)))
        result.wall_s = time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()
    return result


def read_crowd(url: str, paths: list[str], readers: int = 250, total: int = 2000,
               timeout_s: float = 60.0) -> CrowdResult:
    """``readers`` concurrent clients making ``total`` GET requests in all, cycling
    through ``paths``."""
    return asyncio.run(_crowd(url, paths, readers, total, timeout_s))


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]
