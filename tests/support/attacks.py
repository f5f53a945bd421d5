"""Hostile clients for the stranger tests and bench/load.py: request bodies sent a byte at a
time and floods of event streams, each from one address of its own (another loopback
address: the ordinary visitors, on 127.0.0.1 or 127.0.1.x, are told apart from it as they
would be on the internet). They run on an event loop in a background thread while the caller visits."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Awaitable, Callable

STRANGER = "127.0.0.2"          # the slow-body sender
FLOODER = "127.0.0.3"           # the event-stream flooder


@dataclass
class Tally:
    """What the attacking connections met."""

    connected: int = 0                                      # TCP connections made
    answers: Counter[int] = field(default_factory=Counter)  # the server's status lines
    closed: int = 0             # connections the server ended (with an answer or without)
    failed: int = 0             # connects refused or reset before anything came back
    open_now: int = 0           # connections open at this moment, not yet answered
    peak_open: int = 0

    def opened(self) -> None:
        self.connected += 1
        self.open_now += 1
        self.peak_open = max(self.peak_open, self.open_now)

    def summary(self) -> str:
        answers = ", ".join(f"{n}x {status}" for status, n in sorted(self.answers.items()))
        return (f"{self.connected} connections ({self.peak_open} open at most), answers: "
                f"{answers or 'none'}; {self.closed} closed by the server, {self.failed} "
                "failed")


def status_of(head: bytes) -> int | None:
    """The status code of an HTTP/1.1 response's first bytes, or None."""
    parts = head.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/1.") and parts[1].isdigit():
        return int(parts[1])
    return None


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def _connect(port: int, source: str, tally: Tally, stop: asyncio.Event,
                   retry_s: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                           local_addr=(source, 0))
        except OSError:
            tally.failed += 1
            await _sleep_unless(stop, retry_s)
            continue
        tally.opened()
        return reader, writer
    return None


async def _until_answered(reader: asyncio.StreamReader, tally: Tally, seconds: float) -> bool:
    """Read for ``seconds``; True (and tallied) when the server answered or hung up."""
    try:
        head = await asyncio.wait_for(reader.read(4096), seconds)
    except TimeoutError:
        return False
    except OSError:
        head = b""
    status = status_of(head)
    if status is not None:
        tally.answers[status] += 1
    tally.closed += 1
    tally.open_now -= 1
    return True


async def slow_body(port: int, stop: asyncio.Event, tally: Tally, every_s: float = 5.0,
                    reconnect: bool = True, source: str = STRANGER) -> None:
    """A create request whose body comes one byte every ``every_s`` seconds; when the
    server ends it, start again (``reconnect``)."""
    head = (b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n\r\n--x\r\nContent-Disposition: "
            b'form-data; name="content"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n')
    while not stop.is_set():
        connection = await _connect(port, source, tally, stop, every_s)
        if connection is None:
            return
        reader, writer = connection
        try:
            writer.write(head)
            while not stop.is_set() and not await _until_answered(reader, tally, every_s):
                writer.write(b"x")
                await writer.drain()
        except OSError:
            tally.closed += 1
            tally.open_now -= 1
        finally:
            writer.close()
        if not reconnect:
            return
        await _sleep_unless(stop, every_s)


async def event_stream(port: int, path: str, stop: asyncio.Event, tally: Tally,
                       retry_s: float = 5.0, source: str = FLOODER) -> None:
    """One ``EventSource``: stay on ``path`` while it streams, ask again ``retry_s`` after
    a refusal."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
    while not stop.is_set():
        connection = await _connect(port, source, tally, stop, retry_s)
        if connection is None:
            return
        reader, writer = connection
        try:
            writer.write(request.encode())
            head = await _first_bytes(reader, stop)
            status = status_of(head)
            if status is not None:
                tally.answers[status] += 1
            while status == 200 and not stop.is_set() and await _first_bytes(reader, stop):
                pass                                   # the stream goes on: keep reading
            if not stop.is_set():
                tally.closed += 1
        except OSError:
            tally.closed += 1
        finally:
            tally.open_now -= 1
            writer.close()
        await _sleep_unless(stop, retry_s)


async def _first_bytes(reader: asyncio.StreamReader, stop: asyncio.Event) -> bytes:
    read = asyncio.ensure_future(reader.read(65536))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({read, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not read.done():
        read.cancel()
        return b""
    return read.result()


class Attack:
    """``count`` copies of an attacking coroutine on a loop of their own, from ``start()``
    to ``stop()``; ``tally`` says what they met."""

    def __init__(self, count: int,
                 attacker: Callable[[asyncio.Event, Tally], Awaitable[None]]) -> None:
        self.count, self.attacker = count, attacker
        self.tally = Tally()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="attack", daemon=True)
        self._ready = threading.Event()

    def start(self) -> "Attack":
        self._thread.start()
        self._ready.wait(30)
        return self

    def stop(self) -> Tally:
        if self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:            # every attacker had finished: the loop is closed
                pass
        self._thread.join(60)
        return self.tally

    def __enter__(self) -> "Attack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._all())
        self._loop.close()

    async def _all(self) -> None:
        self._stop = asyncio.Event()
        self._ready.set()
        await asyncio.gather(*(self.attacker(self._stop, self.tally)
                               for _ in range(self.count)), return_exceptions=True)
