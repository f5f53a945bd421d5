"""A hostile stranger against the admin, on a real `dreamgen serve` started with no admin token:
through a reverse proxy on the same machine that forwards like nginx's default (the upstream's
``Host``, no ``X-Forwarded-For``) every admin door stays shut; and importing "weights" from the
studio's own folders, ``/proc/self/fd`` or ``/`` is refused without touching the database, so
an acknowledged job survives another process opening the database and a kill -9."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx

from tests.reliability.test_crash_safety import job_state, post_job
from tests.support.server import REPO, ServerProcess
from tests.support.waiting import wait_until

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host"}


class NginxLikeProxy(BaseHTTPRequestHandler):
    """Forwards as nginx's ``proxy_pass http://127.0.0.1:PORT`` does by default: HTTP/1.0,
    ``Host`` set to the upstream's address, no ``X-Forwarded-*`` header added."""

    upstream_port = 0

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Host"] = f"127.0.0.1:{self.upstream_port}"
        upstream = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in HOP_BY_HOP | {"content-length"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = do_PATCH = _forward

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def proxy_in_front_of(server: ServerProcess) -> Iterator[str]:
    """A same-host reverse proxy to ``server`` on a free port; yields its URL."""
    handler = type("Handler", (NginxLikeProxy,), {"upstream_port": server.port})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()


def admin_bearer(server: ServerProcess) -> dict[str, str]:
    """The admin's credentials: the token the studio made in its data folder."""
    token = (server.data_dir / "admin-token").read_text().strip()
    return {"Authorization": f"Bearer {token}"}


def test_a_same_host_proxy_opens_no_admin_door(server_factory: Any) -> None:
    server = server_factory(DREAMGEN_ADMIN_TOKEN="").start()
    with proxy_in_front_of(server) as proxy, httpx.Client(base_url=proxy, timeout=60) as visitor:
        assert visitor.get("/api/engines").status_code == 200        # the proxy works
        doors = [("GET", "/admin", None), ("GET", "/metrics", None),
                 ("GET", "/api/admin/workers", None), ("GET", "/api/admin/weights", None),
                 ("POST", "/api/admin/import", {"folder": "/etc"}),
                 ("POST", "/api/admin/downloads", {"engine": "adain"})]
        for method, path, body in doors:
            answer = visitor.request(method, path, json=body)
            assert answer.status_code == 403, (path, answer.text)
            assert "/etc/" not in answer.text and "dreamgen_jobs" not in answer.text
        imported = visitor.post("/admin/import", data={"folder": "/root/.ssh"})
        assert imported.status_code == 403 and ".ssh" not in imported.text
        assert "Sign in with the admin token" in visitor.get("/admin").text
        with_token = visitor.get("/api/admin/workers", headers=admin_bearer(server))
        assert with_token.status_code == 200           # the admin still gets in through it


def succeeded_job(server: ServerProcess) -> dict[str, Any]:
    """A job answered 201, once it has succeeded."""
    job = post_job(server)
    wait_until("the job to succeed",
         lambda: job_state(server, job["id"]).get("state") == "succeeded")
    return job


def test_importing_from_the_studios_folders_loses_no_acknowledged_job(
        server_factory: Any) -> None:
    server = server_factory(DREAMGEN_ADMIN_TOKEN="").start()
    before = succeeded_job(server)
    data = server.data_dir
    for folder in (data, data / "media", data.parent, "/proc/self/fd", "/proc", "/",
                   "/" + "x" * 10_000):
        answer = httpx.post(f"{server.url}/api/admin/import", json={"folder": str(folder)},
                            headers=admin_bearer(server), timeout=60)
        assert answer.status_code == 422, (str(folder)[:80], answer.text[:300])
        assert "Errno" not in answer.json()["detail"]

    env = {**os.environ, **server.env}
    listed = subprocess.run([sys.executable, "-m", "app.cli", "styles", "list"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    # Had the server dropped its SQLite locks, that process would have deleted the live WAL
    # as it closed, and what the server writes from now on would go to a deleted file.
    assert (data / "dreamgen.db-wal").exists()
    after = succeeded_job(server)
    server.kill()
    server.start()
    for job in (before, after):
        state = job_state(server, job["id"])
        assert state.get("state") == "succeeded", state
        result = httpx.get(server.url + state["links"]["result"], timeout=60)
        assert result.status_code == 200 and result.content[:8] == b"\x89PNG\r\n\x1a\n"
