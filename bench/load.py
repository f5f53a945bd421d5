"""Load benchmark: how the pages hold up while the worker is busy, and under a crowd.

    .venv/bin/python -m bench.load [--jobs 50] [--videos 3] [--size 64]
                                   [--readers 250] [--requests 2000]

Starts the real server (``dreamgen serve`` in a subprocess, one CPU worker) on a temporary
data folder, reads GET /gallery 100 times while idle, then sends ``--jobs`` uploads at once
(``--videos`` of them the 2 s clip ../shared/media/pan_24fps_2s.mp4) and reads GET /gallery
one request after another until every job has finished. Then ``--readers`` concurrent
clients make ``--requests`` GETs in all of /api/gallery, /gallery, /jobs/<id> and
/api/jobs/<id> (the gallery now full), and one more job must still complete afterwards.
Prints latency percentiles, upload times, the jobs' wall time, errors and 5xx answers.

Then the strangers (``--only attacks`` runs just these): on a fresh server (no worker, a few
queued jobs) ordinary visitors (``--visitors`` concurrent, ``--visits`` GETs of /healthz,
/gallery, /api/gallery, a job page and its JSON, from 127.0.1.1) are timed with nobody else
there, then while ``--slow-sockets`` connections from one other address send a create
request's body a byte every 5 s (reconnecting when the server drops them), then while
``--streams`` event streams from one address watch a queued job (asking again 5 s after a
refusal). Each row prints the visitors' latency, their errors (5xx or no answer) and what
the attacking connections met. Target: no 5xx and p99 under 2 s for the visitors.

Then the community (``--only community``, :mod:`bench.community`): 200 concurrent readers of
the trending feed and profile pages while signed-in accounts like and comment. Target: 0
errors.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.support.images import png_bytes
from tests.support.server import ServerProcess
from tests.support.shared import SHARED

if TYPE_CHECKING:
    from tests.support.crowd import CrowdResult

FINISHED = ("succeeded", "failed", "cancelled")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"p50 {statistics.median(ordered) * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms   "
            f"max {ordered[-1] * 1000:6.1f} ms   ({len(ordered)} requests)")


def timed_get(client: httpx.Client, path: str, statuses: list[int]) -> float:
    started = time.perf_counter()
    response = client.get(path)
    statuses.append(response.status_code)
    return time.perf_counter() - started


def upload(url: str, index: int, videos: int, size: int, clip: bytes) -> tuple[int, float, str]:
    is_video = index < videos
    content = ("clip.mp4", clip, "video/mp4") if is_video else \
        (f"c{index}.png", png_bytes((72, 56), seed=index), "image/png")
    files = [("content", content), ("style", ("s.png", png_bytes((64, 64), seed=index + 1),
                                              "image/png"))]
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=300) as client:
        response = client.post("/api/jobs", files=files,
                               data={"engine": "microast", "size": str(size)})
    job_id = response.json().get("id", "") if response.status_code == 201 else ""
    return response.status_code, time.perf_counter() - started, job_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--readers", type=int, default=250)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only", choices=("jobs", "attacks", "community"))
    parser.add_argument("--slow-sockets", type=int, default=2000)
    parser.add_argument("--streams", type=int, default=1500)
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--visits", type=int, default=600)
    parser.add_argument("--settle", type=float, default=20.0,
                        help="seconds an attack runs before the visitors start")
    parser.add_argument("--results", type=int, default=12, help="community: public results")
    parser.add_argument("--writers", type=int, default=20, help="community: accounts writing")
    parser.add_argument("--community-readers", dest="community_readers", type=int, default=200)
    parser.add_argument("--reads", type=int, default=3000, help="community: GETs in all")
    args = parser.parse_args()
    if args.only in (None, "jobs"):
        jobs_and_crowd(args)
    if args.only in (None, "attacks"):
        attack_rows(args)
    if args.only in (None, "community"):
        from bench.community import community_row

        community_row(args)


def jobs_and_crowd(args: argparse.Namespace) -> None:
    """The uploads under load, then the crowd of readers (the first rows)."""
    clip = (SHARED / "media" / "pan_24fps_2s.mp4").read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder) / "data", (SHARED / "weights").resolve())
        server.start()
        statuses: list[int] = []
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                idle = [timed_get(client, "/gallery", statuses) for _ in range(100)]
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=args.jobs) as pool:
                    uploads = list(pool.map(lambda i: upload(server.url, i, args.videos,
                                                             args.size, clip),
                                            range(args.jobs)))
                statuses += [code for code, _, _ in uploads]
                ids = [job_id for _, _, job_id in uploads if job_id]
                busy: list[float] = []
                while True:
                    busy.append(timed_get(client, "/gallery", statuses))
                    if len(busy) % 20 == 0 and all(
                            client.get(f"/api/jobs/{i}").json()["state"] in FINISHED
                            for i in ids):
                        break
                wall = time.perf_counter() - started
                states = [client.get(f"/api/jobs/{i}").json()["state"] for i in ids]
                crowd, after = crowd_run(server, client, ids, args)
        finally:
            server.stop()
        log = server.log()
    print(f"{args.jobs} concurrent uploads ({args.videos} clips), MicroAST at {args.size} px, "
          "one CPU worker")
    print(f"uploads accepted      {sum(c == 201 for c, _, _ in uploads)}/{args.jobs}; "
          f"upload time {percentiles([t for _, t, _ in uploads])}")
    print(f"jobs                  {states.count('succeeded')} succeeded of {len(ids)} in "
          f"{wall:.1f} s from the first upload")
    print(f"GET /gallery idle     {percentiles(idle)}")
    print(f"GET /gallery busy     {percentiles(busy)}")
    print(f"5xx answers           {sum(s >= 500 for s in statuses)} of {len(statuses)}; "
          f"'database is locked' in the log: {log.count('database is locked')}")
    print(f"crowd: {args.readers} concurrent readers, {len(crowd.statuses)} requests in "
          f"{crowd.wall_s:.1f} s ({len(crowd.statuses) / crowd.wall_s:.0f}/s)")
    print(f"  latency             {percentiles(crowd.latencies)}")
    print(f"  errors              {crowd.failures} (5xx or no answer); statuses "
          f"{sorted(set(crowd.statuses))} {'; '.join(sorted(set(crowd.errors)))}")
    print(f"  a job after it      {after}")


def crowd_run(server: ServerProcess, client: httpx.Client, ids: list[str],
              args: argparse.Namespace) -> tuple["CrowdResult", str]:
    """The crowd of readers over the full gallery, then one more job to the end."""
    from tests.support.crowd import read_crowd

    shown = ids[:8]
    paths = ["/api/gallery", "/gallery", *(f"/jobs/{i}" for i in shown),
             *(f"/api/jobs/{i}" for i in shown)]
    crowd = read_crowd(server.url, paths, readers=args.readers, total=args.requests)
    code, _, job_id = upload(server.url, 0, 0, args.size, b"")
    deadline = time.monotonic() + 300
    state = "not created" if code != 201 else "queued"
    while job_id and time.monotonic() < deadline:
        state = client.get(f"/api/jobs/{job_id}").json()["state"]
        if state in FINISHED:
            break
        time.sleep(0.2)
    return crowd, state


def attack_rows(args: argparse.Namespace) -> None:
    """Ordinary visitors alone, then beside each stranger's attack."""
    from tests.support.attacks import Attack, event_stream, slow_body
    from tests.support.crowd import read_crowd

    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder) / "data", (SHARED / "weights").resolve(),
                               DREAMGEN_RUN_WORKER="false")
        server.start()
        try:
            ids = [upload(server.url, i, 0, args.size, b"")[2] for i in range(4)]
            paths = ["/healthz", "/gallery", "/api/gallery", f"/jobs/{ids[0]}",
                     f"/api/jobs/{ids[0]}"]
            visit = functools.partial(read_crowd, server.url, paths, readers=args.visitors,
                                      total=args.visits, timeout_s=30.0)
            rows = [("nobody else", visit(), None)]
            attacks = [(f"{args.slow_sockets} slow-body sockets, one address",
                        Attack(args.slow_sockets, functools.partial(slow_body, server.port))),
                       (f"{args.streams} event streams, one address",
                        Attack(args.streams, functools.partial(
                            event_stream, server.port, f"/api/jobs/{ids[0]}/events")))]
            for name, attack in attacks:
                with attack:
                    time.sleep(args.settle)
                    rows.append((name, visit(), attack.tally))
        finally:
            server.stop()
    print(f"ordinary visitors: {args.visitors} concurrent, {args.visits} GETs "
          f"({', '.join(paths[:3])}, a job page and its JSON)")
    for name, crowd, tally in rows:
        print(f"{name:40} {percentiles(crowd.latencies)}")
        print(f"{'':40} errors {crowd.failures} (5xx or no answer); statuses "
              f"{sorted(set(crowd.statuses))} {'; '.join(sorted(set(crowd.errors)))}")
        if tally is not None:
            print(f"{'':40} attack: {tally.summary()}")


if __name__ == "__main__":
    main()
