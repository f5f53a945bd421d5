"""A clip job killed part-way (SIGKILL of the whole server, a power cut) continues after its
last committed segment when the server starts again: the frames made before the kill are not
stylised again, and the delivered MP4 has every frame, the full duration and the sound."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import httpx

from app.video.probe import VideoLimits, inspect_video
from tests.support.images import png_bytes
from tests.support.server import ServerProcess, db_rows
from tests.support.waiting import wait_until
from tests.video.clips import pan_frames, write_clip

SECONDS, FPS = 6, 24


def test_a_killed_clip_job_resumes_after_its_committed_segments(
        server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "long.mp4", pan_frames("coffee.png", (320, 240),
                                                        SECONDS * FPS, step=2), fps=FPS,
                      tone_hz=440.0)
    server = server_factory(DREAMGEN_VIDEO_SEGMENT_SECONDS="1").start()
    files = [("content", ("long.mp4", clip.read_bytes(), "video/mp4")),
             ("style", ("s.png", png_bytes(seed=4), "image/png"))]
    job = httpx.post(f"{server.url}/api/jobs", files=files, timeout=60,
                     data={"engine": "microast", "size": "128"}).json()

    def committed() -> int:
        [row] = [r for r in db_rows(server.data_dir) if r["public_id"] == job["id"]]
        return len(json.loads(row["segments"] or "[]"))

    wait_until("two committed segments", lambda: committed() >= 2, 240)
    server.kill()                                            # the power cut
    kept = committed()
    assert kept >= 2 and db_rows(server.data_dir)[0]["state"] == "running"

    server.start()

    def finished() -> dict | None:
        state = httpx.get(f"{server.url}/api/jobs/{job['id']}", timeout=30).json()
        return state if state["state"] in ("succeeded", "failed", "cancelled") else None

    done = wait_until("the job to finish after the restart", finished, 300)
    assert done["state"] == "succeeded", done["error"]
    log = server.log()
    resumed = re.search(r"resuming after (\d+) committed segment\(s\), at frame (\d+)", log)
    assert resumed, log[-3000:]
    at_frame = int(resumed.group(2))
    assert int(resumed.group(1)) >= kept and at_frame >= 2 * FPS
    second_run = [int(n) for n in re.findall(r"stylised (\d+) frame\(s\) in this run", log)]
    assert second_run == [SECONDS * FPS - at_frame]         # only what was left
    result = tmp_path / "result.mp4"
    result.write_bytes(httpx.get(f"{server.url}{done['links']['result']}", timeout=60).content)
    made, source = inspect_video(result, VideoLimits()), inspect_video(clip, VideoLimits())
    assert made.frame_count == source.frame_count == SECONDS * FPS
    assert abs(made.duration - source.duration) < 0.05 and made.has_audio
    [row] = db_rows(server.data_dir)
    assert row["segments"] in ("[]", None) and row["partial_path"] is None
    leftovers = list((server.data_dir / "media" / "segments").rglob("*.mp4"))
    assert leftovers == [], leftovers                        # segments gone once joined
