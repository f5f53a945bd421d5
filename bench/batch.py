"""Batch throughput: the same photos as one batch (``POST /api/batches``) and as single jobs
submitted one after another (each sent once the previous one has finished, as a person or a
script doing one at a time would), through a real server.

    .venv/bin/python -m bench.batch              # 8 photos, about 2 minutes on the 2-core CPU
    .venv/bin/python -m bench.batch --photos 4 --rounds 1

Starts ``dreamgen serve`` (one CPU worker) on a temporary data folder, MicroAST (the fast
engine) at 512 px on the shared photos (brick.png as the style; photos smaller than 512 px
stay their size). One warm-up job first, so neither run pays for loading the network.
Prints photos per minute for each (the wall time from the first byte sent to the last result
finished), and ``uptime`` before and after: the machine's two cores are shared, and other
work slows both figures.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.server import ServerProcess
from tests.support.shared import SHARED

PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
          "retina.jpg", "rocket.jpg", "gravel.png")
FORM = {"engine": "microast", "size": "512"}
FINISHED = ("succeeded", "failed", "cancelled")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def style_file() -> tuple[str, tuple[str, bytes, str]]:
    return ("style", ("brick.png", (SHARED / "media" / "brick.png").read_bytes(), "image/png"))


def photo_files(count: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    names = [PHOTOS[i % len(PHOTOS)] for i in range(count)]
    return [("content", (name, (SHARED / "media" / name).read_bytes(), "image/octet-stream"))
            for name in names]


def wait_finished(client: httpx.Client, job_ids: list[str], timeout_s: float = 1800) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = [client.get(f"/api/jobs/{i}").json()["state"] for i in job_ids]
        if all(s in FINISHED for s in states):
            if any(s != "succeeded" for s in states):
                raise RuntimeError(f"a job did not succeed: {states}")
            return
        time.sleep(0.2)
    raise TimeoutError("the jobs did not finish in time")


def as_batch(client: httpx.Client, count: int) -> float:
    """Seconds for ``count`` photos sent as one batch, until the last result."""
    started = time.perf_counter()
    response = client.post("/api/batches", data=FORM, files=[*photo_files(count), style_file()])
    response.raise_for_status()
    print(f"  batch accepted (every photo checked and queued) after "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    body = response.json()
    assert not body["refused"], body["refused"]
    wait_finished(client, [job["id"] for job in body["jobs"]])
    return time.perf_counter() - started


def one_after_another(client: httpx.Client, count: int) -> float:
    """Seconds for ``count`` photos sent as single jobs, each once the previous finished."""
    started = time.perf_counter()
    for photo in photo_files(count):
        response = client.post("/api/jobs", data=FORM, files=[photo, style_file()])
        response.raise_for_status()
        wait_finished(client, [response.json()["id"]])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="each way, alternating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder) / "data", SHARED / "weights",
                               DREAMGEN_MAX_QUEUED_MINUTES_PER_PERSON="0").start()
        try:
            with httpx.Client(base_url=server.url, timeout=600) as client:
                one_after_another(client, 1)                      # warm-up: load the network
                print(f"before: {uptime()}")
                batch, single = [], []
                for _ in range(args.rounds):
                    batch.append(as_batch(client, args.photos))
                    single.append(one_after_another(client, args.photos))
                print(f"after:  {uptime()}")
        finally:
            server.stop()
    best_batch, best_single = min(batch), min(single)
    print(f"\nMicroAST, 512 px, {args.photos} photos, one CPU worker "
          f"(best of {args.rounds}):")
    print("| way | seconds | photos per minute |")
    print("| --- | --- | --- |")
    print(f"| one batch (POST /api/batches) | {best_batch:.1f} | "
          f"{60 * args.photos / best_batch:.1f} |")
    print(f"| single jobs, one after another | {best_single:.1f} | "
          f"{60 * args.photos / best_single:.1f} |")
    print(f"batch / single throughput: {best_single / best_batch:.2f}x")


if __name__ == "__main__":
    main()
