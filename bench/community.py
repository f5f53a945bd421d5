"""The community under load (a row of ``python -m bench.load``, or ``--only community``):
``--community-readers`` concurrent readers (200) of the trending feed and profile pages, HTML and JSON,
while ``--writers`` signed-in accounts (20) like, unlike and comment as fast as their limits
let them; then how long a sign-in takes for an unknown name and for a wrong password.

Starts the real server (``dreamgen serve`` in a subprocess, one CPU worker) on a temporary
data folder, makes ``--results`` public MicroAST pictures (12), the accounts (each from its
own loopback address, as people are) and their follows. Prints the readers' latency and
errors (5xx or no answer: the target is 0), the writes done and those refused by the
per-account limits (429, expected), and the sign-in times. The server's log is checked for
"database is locked".
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tests.support.images import png_bytes
from tests.support.server import ServerProcess
from tests.support.shared import SHARED

PASSWORD = "a long enough password"


def client_from(url: str, address: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60,
                        transport=httpx.HTTPTransport(local_address=address))


def make_results(url: str, count: int) -> list[str]:
    """``count`` finished public pictures (MicroAST, 64 px)."""
    with httpx.Client(base_url=url, timeout=120) as client:
        ids = []
        for i in range(count):
            files = [("content", (f"c{i}.png", png_bytes((72, 56), seed=i), "image/png")),
                     ("style", ("s.png", png_bytes((64, 64), seed=i + 1), "image/png"))]
            ids.append(client.post("/api/jobs", files=files,
                                   data={"engine": "microast", "size": "64"}).json()["id"])
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            states = [client.get(f"/api/jobs/{i}").json()["state"] for i in ids]
            if all(s in ("succeeded", "failed", "cancelled") for s in states):
                break
            time.sleep(0.5)
    return ids


class Writers:
    """Signed-in accounts liking, unliking and commenting in a loop until stopped."""

    def __init__(self, clients: list[httpx.Client], job_ids: list[str]) -> None:
        self.clients, self.job_ids = clients, job_ids
        self.done = {"likes": 0, "unlikes": 0, "comments": 0}
        self.limited = self.errors = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._write, args=(c, n), daemon=True)
                         for n, c in enumerate(clients)]

    def __enter__(self) -> "Writers":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _count(self, kind: str, status: int) -> None:
        with self._lock:
            if status == 429:
                self.limited += 1
            elif status >= 500 or status == 0:
                self.errors += 1
            elif status < 300:
                self.done[kind] += 1

    def _write(self, client: httpx.Client, n: int) -> None:
        step = 0
        while not self._stop.is_set():
            job = self.job_ids[(n + step) % len(self.job_ids)]
            actions = [("likes", "POST", f"/api/jobs/{job}/likes", None),
                       ("unlikes", "DELETE", f"/api/jobs/{job}/likes", None),
                       ("comments", "POST", f"/api/jobs/{job}/comments",
                        {"text": f"comment {step} from writer {n}"})]
            kind, method, path, body = actions[step % 3]
            try:
                status = client.request(method, path, json=body).status_code
            except httpx.HTTPError:
                status = 0
            self._count(kind, status)
            step += 1
            if status == 429:
                self._stop.wait(1.0)       # as a person told "too many" would


def sign_in_times(url: str, names: list[str], rounds: int) -> tuple[list[float], list[float]]:
    """Seconds per sign-in for unknown names and for wrong passwords of real ones,
    interleaved, from addresses and names that stay under the guessing limits."""
    unknown: list[float] = []
    wrong: list[float] = []
    for r in range(rounds):
        with client_from(url, f"127.0.3.{r + 1}") as client:
            for target, name in ((unknown, f"nobody{r}"), (wrong, names[r % len(names)])):
                started = time.perf_counter()
                client.post("/api/auth/signin", json={"username": name, "password": "nope nope"})
                target.append(time.perf_counter() - started)
    return unknown, wrong


def community_row(args: argparse.Namespace) -> None:
    from bench.load import percentiles
    from tests.support.crowd import read_crowd

    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder) / "data", (SHARED / "weights").resolve())
        server.start()
        try:
            job_ids = make_results(server.url, args.results)
            names = [f"writer{n}" for n in range(args.writers)]
            clients = [client_from(server.url, f"127.0.2.{n + 1}") for n in range(args.writers)]
            for name, client in zip(names, clients):
                client.post("/api/auth/signup", json={"username": name, "password": PASSWORD})
                client.post(f"/api/users/{names[0]}/follow")
            paths = ["/gallery?tab=trending", "/api/gallery?tab=trending",
                     *(f"/u/{name}" for name in names[:4]),
                     *(f"/api/users/{name}" for name in names[:4])]
            with Writers(clients, job_ids) as writers:
                time.sleep(2)                      # the writers are going
                crowd = read_crowd(server.url, paths, readers=args.community_readers,
                                   total=args.reads)
            unknown, wrong = sign_in_times(server.url, names, 15)
            for client in clients:
                client.close()
        finally:
            server.stop()
        log = server.log()
    print(f"community: {args.community_readers} concurrent readers of the trending feed and profiles "
          f"({len(crowd.statuses)} GETs in {crowd.wall_s:.1f} s) while {args.writers} "
          f"accounts like and comment on {len(job_ids)} results")
    print(f"  readers' latency    {percentiles(crowd.latencies)}")
    print(f"  readers' errors     {crowd.failures} (5xx or no answer); statuses "
          f"{sorted(set(crowd.statuses))} {'; '.join(sorted(set(crowd.errors)))}")
    print(f"  writes              {writers.done['likes']} likes, {writers.done['unlikes']} "
          f"unlikes, {writers.done['comments']} comments; {writers.limited} refused by the "
          f"per-account limits (429); errors {writers.errors}")
    print(f"  'database is locked' in the log: {log.count('database is locked')}")
    print(f"  sign-in, unknown name   median {statistics.median(unknown) * 1000:6.1f} ms; "
          f"wrong password median {statistics.median(wrong) * 1000:6.1f} ms "
          f"({len(unknown)} each, interleaved)")
