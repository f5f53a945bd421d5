"""A stranger against the real server (``dreamgen serve``): bodies too large to read whole,
bodies sent to a client over its rate limit, bodies that trickle in a byte at a time, and a
flood of event streams, each from one address while ordinary visitors (127.0.0.1) go on.
No timings are asserted: answers and counts, with generous deadlines."""

from __future__ import annotations

import functools
import os
import socket
import threading
from pathlib import Path
from typing import Callable

import httpx

from tests.support.attacks import FLOODER, Attack, event_stream, slow_body, status_of
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until
from tests.web.conftest import image_files

FORM = {"engine": "microast", "size": "64"}
MIB = 2**20


def read_answer(sock: socket.socket, timeout_s: float) -> bytes:
    """What the server sends until it closes the connection (or the deadline)."""
    sock.settimeout(timeout_s)
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return answer


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def open_files_in(pid: int, folder: Path) -> list[str]:
    """The server's open files inside ``folder`` (unlinked spool files included)."""
    found = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def test_a_chunked_body_over_the_limit_is_refused_before_it_is_read_whole(
        server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    spool = tmp_path / "server-tmp"
    spool.mkdir()
    server = server_factory(DREAMGEN_MAX_UPLOAD_MB="1", DREAMGEN_RUN_WORKER="false",
                            TMPDIR=str(spool)).start()
    total = 64 * MIB                     # the limit for a job is 10 MiB here (9 files + 1)
    sent = 0
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked"
                 b"\r\nContent-Type: multipart/form-data; boundary=B\r\n\r\n")

    def send_body() -> None:
        nonlocal sent
        try:
            sock.sendall(_chunk(b'--B\r\nContent-Disposition: form-data; name="content"; '
                                b'filename="big.png"\r\nContent-Type: image/png\r\n\r\n'))
            block = bytes(256 * 1024)
            while sent < total:
                sock.sendall(_chunk(block))
                sent += len(block)
            sock.sendall(_chunk(b"\r\n--B--\r\n") + b"0\r\n\r\n")
        except OSError:
            pass                         # the server hung up: it stopped reading

    sender = threading.Thread(target=send_body)
    sender.start()
    answer = read_answer(sock, 120)
    sender.join(120)
    sock.close()
    assert status_of(answer) == 413, answer[:300]
    assert sent < total // 2, f"the server read {sent / MIB:.0f} MiB before answering"
    assert b"larger than the 1 MiB per-file limit" in answer
    wait_until("the spooled part to be removed", lambda: not open_files_in(server.process.pid, spool),
         timeout_s=30)
    assert [f for f in spool.rglob("*") if f.is_file()] == []    # (the fork server's socket stays)
    assert httpx.get(f"{server.url}/healthz", timeout=30).status_code == 200


def test_a_client_over_its_rate_limit_gets_429_before_sending_its_body(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(DREAMGEN_RATE_LIMIT_PER_MINUTE="2",
                            DREAMGEN_RUN_WORKER="false").start()
    url = f"{server.url}/api/jobs"
    refused_form = httpx.post(url, files=image_files(), data={**FORM, "alpha": "strong"},
                              timeout=60)
    assert refused_form.status_code == 422             # refused before counting: not a job
    assert [httpx.post(url, files=image_files(), data=FORM, timeout=60).status_code
            for _ in range(2)] == [201, 201]
    for path, kind in (("/api/jobs", b"application/json"), ("/create", b"text/html")):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000000\r\n"
                     "Content-Type: multipart/form-data; boundary=B\r\n\r\n".encode())
        answer = read_answer(sock, 30)                   # the body is never sent
        sock.close()
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        assert status_of(answer) == 429, (path, answer[:300])
        assert b"\r\nretry-after: " in head and kind in head
        assert b"too many jobs: the limit is 2 a minute" in answer


def test_slow_bodies_are_closed_and_other_visitors_are_answered(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(DREAMGEN_RUN_WORKER="false", DREAMGEN_BODY_IDLE_SECONDS="2",
                            DREAMGEN_MAX_CONNECTIONS_PER_CLIENT="50").start()
    visits: list[int] = []

    def everyone_closed_while_visiting() -> bool:
        for path in ("/gallery", "/healthz", "/api/engines"):
            try:
                visits.append(httpx.get(f"{server.url}{path}", timeout=30).status_code)
            except httpx.HTTPError:
                visits.append(0)
        return attack.tally.closed == 80

    with Attack(80, functools.partial(slow_body, server.port, every_s=1.0,
                                      reconnect=False)) as attack:
        wait_until("the server to end every slow body", everyone_closed_while_visiting,
             timeout_s=120)
    tally = attack.tally
    assert tally.answers[429] == 30, tally.summary()    # past 50 open, refused at the door
    assert tally.answers[408] == 50, tally.summary()    # the others timed out, told why
    assert visits and set(visits) == {200}, visits
    assert "Exception in ASGI application" not in server.log()


def test_an_event_stream_flood_gets_429_and_the_site_still_answers(
        server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(DREAMGEN_RUN_WORKER="false",
                            DREAMGEN_MAX_EVENT_STREAMS_PER_CLIENT="5").start()
    job_id = httpx.post(f"{server.url}/api/jobs", files=image_files(), data=FORM,
                        timeout=60).json()["id"]       # stays queued: its streams stay open
    events = f"/api/jobs/{job_id}/events"
    with Attack(40, functools.partial(event_stream, server.port, events,
                                      retry_s=2.0)) as attack:
        wait_until("an answer to every stream", lambda: sum(attack.tally.answers.values()) >= 40,
             timeout_s=120)
        with httpx.Client(transport=httpx.HTTPTransport(local_address=FLOODER),
                          timeout=30) as flooder:
            with flooder.stream("GET", f"{server.url}{events}") as refused:
                refused_body = refused.read() if refused.status_code == 429 else b""
        visits = [httpx.get(f"{server.url}{path}", timeout=30).status_code
                  for path in ("/healthz", "/gallery", f"/jobs/{job_id}", f"/api/jobs/{job_id}")
                  for _ in range(3)]
        with httpx.stream("GET", f"{server.url}{events}", timeout=30) as own:
            first = next(line for line in own.iter_lines() if line.startswith("event:"))
        tally = attack.tally

    def flooder_streams_again() -> bool:          # the places were given back on leaving
        with httpx.Client(transport=httpx.HTTPTransport(local_address=FLOODER),
                          timeout=30) as again:
            with again.stream("GET", f"{server.url}{events}") as stream:
                return stream.status_code == 200
    wait_until("a stream place for the flooder again", flooder_streams_again, timeout_s=60)
    assert tally.answers[200] == 5, tally.summary()
    assert tally.answers[429] >= 35, tally.summary()
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert b"too many live progress streams from your address" in refused_body
    assert set(visits) == {200}, visits
    assert own.status_code == 200 and first == "event: progress"
