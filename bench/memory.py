"""Memory benchmark: what a request with nine 40-megapixel style images costs the server.

    .venv/bin/python -m bench.memory [--styles 9] [--megapixels 39.6] [--concurrent 4]

Starts the real server (``dreamgen serve``, no workers) and sends one request with
``--styles`` style images of ``--megapixels`` each (PNG, about 1 MB in all, and JPEG), then
``--concurrent`` such requests at once; nine styles are over the limit of eight, so the same
is then done with eight (the largest request the server takes). Then ``--parallel`` (12)
requests at once that each bring one 40-megapixel PNG as their content (``--only parallel``
runs just this row): the server checks at most ``DREAMGEN_UPLOAD_CHECKS`` of them at a time.
Samples the resident memory of the web process and of every process under it (the fork
server and the children that decode uploads) every 20 ms, and prints the peak, the web
process's memory before and after, and the time taken.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

from app.engine.options import MAX_STYLES
from tests.support.images import png_bytes
from tests.support.server import ServerProcess
from tests.support.shared import SHARED


def rss_mb(pid: int, field: str = "VmRSS:", source: str = "status") -> float:
    """Resident memory of ``pid`` in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional memory of ``pid`` in MB: pages shared with other processes (the fork
    server's torch, say) count in part, so the sum over processes is the real total."""
    return rss_mb(pid, "Pss:", "smaps_rollup")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return found


class Sampler(threading.Thread):
    """Peak total resident memory of a process tree, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_mb, self.stopping = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.02):
            self.peak_mb = max(self.peak_mb, sum(pss_mb(p) for p in descendants(self.pid)))


def big_image(megapixels: float, fmt: str, seed: int) -> bytes:
    side = int((megapixels * 1e6) ** 0.5)
    image = Image.new("RGB", (side, int(megapixels * 1e6 / side)), (40 * seed % 256, 90, 160))
    image.paste((200, 60, 40), (0, 0, side // 3, side // 4))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 85} if fmt == "JPEG" else {"compress_level": 9}))
    return buffer.getvalue()


def request(url: str, styles: list[bytes], fmt: str,
            content: bytes | None = None) -> tuple[int, float]:
    files = [("content", ("c.png", content or png_bytes((96, 64)), "image/png"))]
    files += [("style", (f"s{i}.{fmt.lower()}", data, "application/octet-stream"))
              for i, data in enumerate(styles)]
    started = time.perf_counter()
    response = httpx.post(f"{url}/api/jobs", files=files, timeout=300,
                          data={"engine": "microast", "size": "256"})
    return response.status_code, time.perf_counter() - started


def measure(server: ServerProcess, label: str, run: "callable") -> None:  # type: ignore[valid-type]
    pid = server.process.pid
    before = rss_mb(pid)
    idle = sum(pss_mb(p) for p in descendants(pid))
    print(f"  (all processes idle: {idle:.0f} MB PSS)")
    sampler = Sampler(pid)
    sampler.start()
    started = time.perf_counter()
    statuses = run()
    wall = time.perf_counter() - started
    sampler.stopping.set()
    sampler.join()
    time.sleep(1.0)
    print(f"{label:<44} statuses {statuses}  {wall:5.1f} s   web process RSS {before:5.0f} "
          f"-> {rss_mb(pid):5.0f} MB   peak of all its processes (PSS) "
          f"{sampler.peak_mb:5.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--styles", type=int, default=9)
    parser.add_argument("--megapixels", type=float, default=39.6)
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--parallel", type=int, default=12)
    parser.add_argument("--only", choices=("parallel",))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder) / "data", (SHARED / "weights").resolve(),
                               DREAMGEN_RUN_WORKER="false",
                               DREAMGEN_MAX_UPLOAD_MB="50").start()
        try:
            httpx.post(f"{server.url}/api/jobs", timeout=60, files=[      # warm the children
                ("content", ("c.png", png_bytes(), "image/png")),
                ("style", ("s.png", png_bytes(seed=2), "image/png"))],
                data={"engine": "microast", "size": "64"})
            rows = [] if args.only else [("PNG", args.styles), ("PNG", MAX_STYLES),
                                         ("JPEG", MAX_STYLES)]
            for fmt, count in rows:
                styles = [big_image(args.megapixels, fmt, i) for i in range(count)]
                size_mb = sum(map(len, styles)) / 2**20
                one = f"{count} x {args.megapixels:g} MP {fmt} ({size_mb:.1f} MB)"
                measure(server, one, lambda: [request(server.url, styles, fmt)[0]])
                with ThreadPoolExecutor(args.concurrent) as pool:
                    measure(server, f"{args.concurrent} such requests at once",
                            lambda: sorted(pool.map(lambda _: request(server.url, styles,
                                                                      fmt)[0],
                                                    range(args.concurrent))))
            parallel_contents(server, args)
        finally:
            server.stop()


def parallel_contents(server: ServerProcess, args: argparse.Namespace) -> None:
    """``--parallel`` requests at once, each with one big PNG as its content."""
    content = big_image(args.megapixels, "PNG", 1)
    style = [png_bytes((64, 64), seed=2)]
    label = (f"{args.parallel} requests at once, one {args.megapixels:g} MP PNG content each "
             f"({len(content) / 1024:.0f} KiB)")
    with ThreadPoolExecutor(args.parallel) as pool:
        measure(server, label, lambda: sorted(pool.map(
            lambda _: request(server.url, style, "PNG", content)[0], range(args.parallel))))


if __name__ == "__main__":
    main()
