"""A clip job killed part-way (SIGKILL of the whole server, a power cut) continues after its
last committed segment when the server starts again: the frames made before the kill are not
stylised again, and the delivered MP4 has every frame, the full duration and the sound. A
painterly clip also continues its chain of frames from the committed frame: nothing after
the resume point is painted from scratch."""

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
from tests.support.clips import pan_frames, write_clip

SECONDS, FPS = 6, 24


def committed_segments(server: ServerProcess, job_id: str) -> int:
    """How many segments the job row has recorded."""
    [row] = [r for r in db_rows(server.data_dir) if r["public_id"] == job_id]
    return len(json.loads(row["segments"] or "[]"))


def finished(server: ServerProcess, job_id: str) -> dict | None:
    """The job as the API shows it once it has ended (None while it runs)."""
    state = httpx.get(f"{server.url}/api/jobs/{job_id}", timeout=30).json()
    return state if state["state"] in ("succeeded", "failed", "cancelled") else None


def killed_and_resumed(server: ServerProcess, clip: Path, options: dict[str, str]
                       ) -> tuple[dict, str, int]:
    """Make ``clip`` with ``options``, kill the server once two segments are committed,
    start it again and wait for the job: (the finished job, the server's log, the frame
    the second run resumed at)."""
    files = [("content", (clip.name, clip.read_bytes(), "video/mp4")),
             ("style", ("s.png", png_bytes(seed=4), "image/png"))]
    job = httpx.post(f"{server.url}/api/jobs", files=files, timeout=60, data=options).json()
    assert job["engine"] == options["engine"], job
    wait_until("two committed segments", lambda: committed_segments(server, job["id"]) >= 2, 240)
    server.kill()                                            # the power cut
    kept = committed_segments(server, job["id"])
    assert kept >= 2 and db_rows(server.data_dir)[0]["state"] == "running"
    server.start()
    done = wait_until("the job to finish after the restart", lambda: finished(server, job["id"]),
                300)
    assert done["state"] == "succeeded", done["error"]
    log = server.log()
    resumed = re.search(r"resuming after (\d+) committed segment\(s\), at frame (\d+)", log)
    assert resumed and int(resumed.group(1)) >= kept, log[-3000:]
    return done, log, int(resumed.group(2))


def test_a_killed_clip_job_resumes_after_its_committed_segments(
        server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "long.mp4", pan_frames("coffee.png", (320, 240),
                                                        SECONDS * FPS, step=2), fps=FPS,
                      tone_hz=440.0)
    server = server_factory(DREAMGEN_VIDEO_SEGMENT_SECONDS="1").start()
    done, log, at_frame = killed_and_resumed(server, clip, {"engine": "microast",
                                                            "size": "128"})
    assert at_frame >= 2 * FPS
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


def test_a_killed_painterly_clip_continues_its_chain_from_the_committed_frame(
        server_factory: Callable[..., ServerProcess], tmp_path: Path) -> None:
    seconds, fps = 4, 12
    clip = write_clip(tmp_path / "pan.mp4", pan_frames("coffee.png", (96, 72), seconds * fps,
                                                       step=2), fps=fps, tone_hz=440.0)
    server = server_factory(DREAMGEN_VIDEO_SEGMENT_SECONDS="0.5").start()
    done, log, at_frame = killed_and_resumed(
        server, clip, {"engine": "gatys-lite", "size": "64", "iterations": "10"})
    assert at_frame >= 12
    carried = re.search(r"carrying on from the frame committed with segment (\d+) "
                        r"\(frame (\d+)\)", log)
    assert carried and int(carried.group(2)) == at_frame - 1, log[-3000:]
    runs = re.findall(r"stylised (\d+) frame\(s\) in this run, (\d+) from scratch", log)
    # only what was left, and none of it from scratch: the chain went on from the
    # committed frame instead of starting again at the resume point
    assert [(int(a), int(b)) for a, b in runs] == [(seconds * fps - at_frame, 0)]
    result = tmp_path / "result.mp4"
    result.write_bytes(httpx.get(f"{server.url}{done['links']['result']}", timeout=60).content)
    made = inspect_video(result, VideoLimits())
    assert made.frame_count == seconds * fps and made.has_audio
