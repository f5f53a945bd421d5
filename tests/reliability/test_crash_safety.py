"""Power cuts at the worst moments: the real server in a subprocess, killed with SIGKILL
during an upload, while a job runs, while a result is half-way to its final name, and right
after a job row is committed. After every restart the database is intact; at the end every
accepted job has finished (or failed with a message: the one whose runs were used up) and
the media folder holds exactly the files the job rows name, each complete, with no temporary
file left."""

from __future__ import annotations

import json
import socket
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tests.reliability.corpus import all_files_under, noise_image
from tests.support.fault_engines import PAUSE_ENV as PAUSE_ENV_NAME
from tests.support.images import png_bytes
from tests.support.server import FINISHED, ServerProcess, db_rows, integrity
from tests.support.waiting import wait_until

PAUSE_ENV = {PAUSE_ENV_NAME: "120"}   # test-pause-write waits between temp file and rename


def files(content: bytes | None = None) -> list[tuple[str, Any]]:
    return [("content", ("c.png", content or png_bytes(seed=1), "image/png")),
            ("style", ("s.png", png_bytes(seed=3), "image/png"))]


def post_job(server: ServerProcess, **form: str) -> dict[str, Any]:
    data = {"engine": "microast", "size": "64", **form}
    response = httpx.post(f"{server.url}/api/jobs", files=files(), data=data, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()


def job_state(server: ServerProcess, job_id: str) -> dict[str, Any]:
    return httpx.get(f"{server.url}/api/jobs/{job_id}", timeout=30).json()


def kill_during_upload(server: ServerProcess) -> None:
    """Send half of a 3 MB multipart upload slowly over a raw socket, then pull the plug."""
    boundary = "crashtestboundary"
    content = noise_image("PNG", side=1000)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; "
            f"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + content + (
            f"\r\n--{boundary}--\r\n").encode()
    head = (f"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head)
        half = len(body) // 2
        for start in range(0, half, 64 * 1024):
            sock.sendall(body[start:min(start + 64 * 1024, half)])
        # the server is still answering others while this body hangs half-sent
        assert httpx.get(f"{server.url}/api/engines", timeout=30).status_code == 200
        server.kill()


def assert_consistent(data_dir: Path) -> list[sqlite3.Row]:
    """Every job finished; media files == the files rows name, each complete; no temps."""
    assert integrity(data_dir) == "ok"
    rows = db_rows(data_dir)
    named: set[str] = set()
    for row in rows:
        assert row["state"] in FINISHED, dict(row)
        if row["state"] == "failed":
            assert row["error"], dict(row)
        if row["state"] == "succeeded":
            assert row["result_path"] and row["thumb_path"], dict(row)
        named.update(p for p in (row["content_path"], *json.loads(row["style_paths"]),
                                 row["result_path"], row["thumb_path"], row["preview_path"],
                                 row["strength_path"]) if p)
    with sqlite3.connect(data_dir / "dreamgen.db") as conn:   # the style library's copies
        named.update(p for row in conn.execute("SELECT path, thumb_path FROM styles")
                     for p in row if p)
    media = data_dir / "media"
    assert all_files_under(media) == named, "orphaned or missing media files"
    for rel in named:
        if rel.endswith((".png", ".jpg")):
            with Image.open(media / rel) as image:
                image.load()                       # raises on a half-written file
    return rows


def test_the_server_survives_sigkill_at_any_moment(server_factory: Any) -> None:
    server = server_factory()
    data_dir = server.data_dir

    # 1. a power cut in the middle of an upload
    server.start()
    kill_during_upload(server)
    server.start()
    assert integrity(data_dir) == "ok" and db_rows(data_dir) == []
    assert all_files_under(data_dir / "media") == set()

    # 2. a finished job, then a power cut while a second job runs
    first = post_job(server)
    wait_until("the first job", lambda: job_state(server, first["id"])["state"] in FINISHED)
    long = post_job(server, engine="gatys-lite", iterations="2000")   # never ends by itself
    wait_until("the Gatys job to make progress",
         lambda: job_state(server, long["id"])["progress"] > 0)
    server.kill()
    assert db_rows(data_dir)[1]["state"] == "running", "the kill came after the job ended"

    # 3. with one run allowed per job it gives up, with a message; a second job is cut off
    #    while its result is half-way to its final name
    server.start(DREAMGEN_MAX_ATTEMPTS="1", **PAUSE_ENV)
    assert integrity(data_dir) == "ok"
    gave_up = job_state(server, long["id"])
    assert gave_up["state"] == "failed" and "stopped during this job" in gave_up["error"]
    paused = post_job(server, engine="test-pause-write")
    results = data_dir / "media" / "results"
    wait_until("a temporary result file", lambda: results.is_dir() and any(
        p.name.startswith(".tmp-") for p in results.rglob("*")))
    server.kill()
    assert db_rows(data_dir)[2]["state"] == "running"

    # 4. it runs again and finishes; a power cut right after a job row is committed
    server.start()
    assert integrity(data_dir) == "ok"
    assert not any(p.name.startswith(".tmp-") for p in results.rglob("*")), \
        "the crash's temporary result file is still there after a restart"
    done = wait_until("the interrupted job", lambda: (job := job_state(server, paused["id"]))[
        "state"] in FINISHED and job)
    assert done["state"] == "succeeded", done["error"]
    last = post_job(server)
    server.kill()
    assert db_rows(data_dir)[3]["public_id"] == last["id"]      # committed before the 201

    # 5. the last job is found and run; everything adds up
    server.start()
    assert integrity(data_dir) == "ok"
    wait_until("the last job", lambda: job_state(server, last["id"])["state"] in FINISHED)
    server.stop()
    rows = assert_consistent(data_dir)
    assert [r["public_id"] for r in rows] == [first["id"], long["id"], paused["id"], last["id"]]
    assert [r["state"] for r in rows] == ["succeeded", "failed", "succeeded", "succeeded"]
    assert rows[2]["attempts"] == 2               # cut off once, finished on the second run
    assert "database is locked" not in server.log()
