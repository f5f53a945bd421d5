"""The admin page and its JSON endpoints, in process: who gets in, downloads against a local
HTTP mirror (progress, a wrong hash, one download per file, offline), imports from a folder.

The AdaIN checkpoints are not obtainable here, so the mirror serves generated files and the
app's store trusts their SHA-256 instead of the published one (lookup and verification
still run); MicroAST's real files come from the bundled folder, with its real pins.
"""

from __future__ import annotations

import contextlib
import html
import random
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app.engine.weights.store import (
    CHUNK_BYTES,
    WEIGHT_FILES,
    WeightStore,
    bundled_dir,
    file_sha256,
)
from app.settings import Settings
from app.web import admin_access
from app.web.main import create_app
from tests.support.waiting import wait_until
from tests.weights.support import FileServer, Route, leftovers, running_server

TOKEN = "correct-horse-battery-staple"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ADAIN = ("adain/vgg_normalised.pth", "adain/decoder.pth")
MICROAST = tuple(f"microast/{part}_iter_160000.pth.tar"
                 for part in ("content_encoder", "style_encoder", "modulator", "decoder"))


@pytest.fixture
def blobs(tmp_path: Path) -> dict[str, Path]:
    """Generated stand-ins for the AdaIN checkpoints, laid out as a mirror serves them (the
    encoder spans several download chunks)."""
    sizes = {ADAIN[0]: CHUNK_BYTES * 2 + 4321, ADAIN[1]: 200_000}
    paths = {}
    for seed, (name, size) in enumerate(sizes.items()):
        paths[name] = tmp_path / "mirror" / name
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        paths[name].write_bytes(random.Random(seed).randbytes(size))
    return paths


@pytest.fixture
def mirror(blobs: dict[str, Path], tmp_path: Path) -> Iterator[FileServer]:
    with running_server() as server:
        server.serve_folder(tmp_path / "mirror")
        yield server


def trusting(settings: Settings, blobs: dict[str, Path], **changes: Any) -> WeightStore:
    """The settings' store, trusting the generated AdaIN files (size unknown, as in the real
    registry) and leaving the bundled weights out."""
    pins = tuple(replace(f, sha256=file_sha256(blobs[f.name]), size=None)
                 if f.name in blobs else f for f in WEIGHT_FILES)
    return replace(WeightStore.from_settings(settings), pins=pins, use_bundled=False, **changes)


@pytest.fixture
def make_client(make_settings: Callable[..., Settings], blobs: dict[str, Path],
                mirror: FileServer) -> Iterator[Callable[..., TestClient]]:
    """Build a client of an app whose store downloads from ``mirror``. No lifespan (the admin
    routes need no database) unless ``lifespan=True``."""
    with contextlib.ExitStack() as stack:
        def build(lifespan: bool = False, client: tuple[str, int] = ("testclient", 50000),
                  base_url: str = "http://testserver", **overrides: Any) -> TestClient:
            values = dict(weights_dir=None, run_worker=False, admin_token=TOKEN, offline=False)
            settings = make_settings(**{**values, **overrides})
            app = create_app(settings, weights=trusting(settings, blobs, mirror=mirror.url))
            test_client = TestClient(app, client=client, base_url=base_url)
            return stack.enter_context(test_client) if lifespan else test_client
        yield build


def wait_until_idle(client: TestClient, timeout_s: float = 30.0) -> dict[str, Any]:
    """Poll the overview until no download runs (fails at the deadline)."""
    def idle() -> dict[str, Any] | None:
        overview = client.get("/api/admin/weights", headers=BEARER).json()
        return None if overview["downloading"] else overview

    return wait_until("the downloads to end", idle, timeout_s)


def engine_of(overview: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in overview["engines"] if e["name"] == name)


def files_of(overview: dict[str, Any], engine: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in engine_of(overview, engine)["files"]}


# ----------------------------------------------------------------------------- access
LOCAL = dict(client=("127.0.0.1", 50000), base_url="http://127.0.0.1:8000")


def every_route(routes: list[Any]) -> Iterator[Any]:
    """The routes of an app or router, those of the routers it includes too (the app
    includes them without a prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from every_route(included.routes) if included is not None else [route]


def admin_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every admin page, form and endpoint, path parameters filled in."""
    found = []
    for route in every_route(client.app.routes):
        path = getattr(route, "path", "")
        if path.startswith(("/admin", "/api/admin")) or path == "/metrics":
            if path not in ("/admin/sign-in", "/admin/sign-out"):
                filled = re.sub(r"\{[^}]+\}", "x", path)
                found += [(method, filled) for method in sorted(route.methods - {"HEAD"})]
    return found


def test_without_a_token_setting_the_studio_makes_one_and_loopback_needs_it(
        make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    local = make_client(admin_token="", lifespan=True, **LOCAL)
    token_file = tmp_path / "data" / "admin-token"
    token = token_file.read_text().strip()
    assert len(token) >= 40 and token_file.stat().st_mode & 0o777 == 0o600
    routes = admin_routes(local)
    assert len(routes) >= 15 and ("GET", "/metrics") in routes
    for method, path in routes:          # the server's own address is no key
        response = local.request(method, path, json={"engine": "adain", "folder": "/"},
                                 data=None)
        assert response.status_code == 403, (method, path, response.text)
    page = local.get("/admin")
    assert admin_access.NEEDS_SIGN_IN in page.text and 'name="token"' in page.text
    assert "admin-token" in page.text and "dreamgen admin token" in page.text
    assert str(tmp_path) not in page.text          # no server path for strangers
    assert local.get("/api/admin/weights").json() == {"detail": admin_access.NEEDS_SIGN_IN}

    bearer = {"Authorization": f"Bearer {token}"}
    assert local.get("/api/admin/weights", headers=bearer).status_code == 200
    assert local.get("/metrics", headers=bearer).status_code == 200
    assert local.post("/admin/sign-in", data={"token": token},
                      follow_redirects=False).status_code == 303
    assert local.get("/admin").status_code == 200
    assert make_client(admin_token="").get("/api/admin/weights",     # another process
                                           headers=bearer).status_code == 200


def test_a_new_token_counts_at_once_and_signs_everyone_out(
        make_client: Callable[..., TestClient], tmp_path: Path) -> None:
    from app.admin_token import replace_token

    client = make_client(admin_token="")
    path = tmp_path / "data" / "admin-token"
    old = path.read_text().strip()
    client.post("/admin/sign-in", data={"token": old})
    assert client.get("/api/admin/weights").status_code == 200
    new = replace_token(path)
    assert new != old and path.stat().st_mode & 0o777 == 0o600
    assert client.get("/api/admin/weights").status_code == 403       # the cookie: signed out
    assert client.get("/api/admin/weights",
                      headers={"Authorization": f"Bearer {old}"}).status_code == 403
    assert client.get("/api/admin/weights",
                      headers={"Authorization": f"Bearer {new}"}).status_code == 200


def test_studios_starting_together_agree_on_one_token(
        make_settings: Callable[..., Settings]) -> None:
    """Threads race on the one file as processes sharing the data folder do."""
    from concurrent.futures import ThreadPoolExecutor

    from app.admin_token import AdminToken

    settings = make_settings(admin_token="")
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: AdminToken.from_settings(settings).current(), range(32)))
    assert len(tokens) == 1
    leftovers = {p.name for p in settings.data_dir.iterdir()} - {"dreamgen.db"}
    assert leftovers == {"admin-token"}                # no temporary token files


def test_an_unreadable_token_file_shuts_the_door_without_naming_server_paths(
        make_client: Callable[..., TestClient], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(admin_token="")
    path = tmp_path / "data" / "admin-token"
    token = path.read_text().strip()
    path.unlink()
    path.mkdir()                                   # something no token can be read from
    refused = client.get("/api/admin/weights", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == admin_access.TOKEN_UNREADABLE
    sign_in = client.post("/admin/sign-in", data={"token": token})
    assert sign_in.status_code == 503 and str(tmp_path) not in sign_in.text
    assert str(path) in caplog.text                # the admin finds the reason in the log


@pytest.mark.parametrize("short", ["x", "fifteen-chars-x", " " * 20 + "short"])
def test_a_short_admin_token_refuses_to_start(make_settings: Callable[..., Settings],
                                              short: str) -> None:
    from app.admin_token import AdminTokenError

    with pytest.raises(AdminTokenError, match="at least 16"):
        create_app(make_settings(admin_token=short))


def test_with_a_token_the_bearer_token_or_the_sign_in_cookie_is_needed(
        make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    page = client.get("/admin")
    assert page.status_code == 403 and 'name="token"' in page.text     # the sign-in form
    assert client.get("/api/admin/weights").json() == {"detail": admin_access.NEEDS_SIGN_IN}
    wrong = client.get("/api/admin/weights", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.json()["detail"] == admin_access.WRONG_TOKEN
    assert client.get("/api/admin/weights", headers=BEARER).status_code == 200
    local = make_client(**LOCAL)
    assert local.get("/api/admin/weights").status_code == 403   # loopback needs it too

    refused = client.post("/admin/sign-in", data={"token": "nope"}, follow_redirects=False)
    assert refused.status_code == 403 and admin_access.WRONG_TOKEN in refused.text
    assert admin_access.ADMIN_COOKIE not in client.cookies
    signed = client.post("/admin/sign-in", data={"token": TOKEN}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/admin"
    header = signed.headers["set-cookie"]
    assert "HttpOnly" in header and "samesite=strict" in header.lower()
    cookie = client.cookies[admin_access.ADMIN_COOKIE]
    assert TOKEN not in cookie and len(cookie.split(".")[1]) == 64   # an HMAC, not the token
    assert client.get("/admin").status_code == 200
    assert client.get("/api/admin/weights").status_code == 200

    client.post("/admin/sign-out")
    assert client.get("/admin").status_code == 403


def test_forged_expired_and_foreign_cookies_are_refused(
        make_client: Callable[..., TestClient]) -> None:
    client, other = make_client(), make_client()
    other.post("/admin/sign-in", data={"token": TOKEN})
    client.get("/admin")                                # makes this app's admin state
    key = client.app.state.admin.key
    stale = admin_access.session_cookie(key, TOKEN,
                                        int(time.time()) - admin_access.SESSION_S - 5)
    for value in (other.cookies[admin_access.ADMIN_COOKIE],       # another server's key
                  stale, TOKEN, "1." + "0" * 64, "", "garbage"):
        client.cookies.set(admin_access.ADMIN_COOKIE, value)
        assert client.get("/api/admin/weights").status_code == 403, value
    client.cookies.set(admin_access.ADMIN_COOKIE, admin_access.session_cookie(key, TOKEN))
    assert client.get("/api/admin/weights").status_code == 200


def test_wrong_tokens_are_rate_limited_but_never_lock_the_admin_out(
        make_client: Callable[..., TestClient]) -> None:
    stranger = make_client(**LOCAL)                 # the admin's address (a NAT, a proxy)
    codes = [stranger.post("/admin/sign-in", data={"token": f"guess{i}"}).status_code
             for i in range(12)]
    assert codes[:10] == [403] * 10 and codes[10:] == [429, 429]
    assert "Too many wrong tokens" in stranger.post("/admin/sign-in",
                                                    data={"token": "guess"}).text
    admin = make_client(**LOCAL)
    admin.app.state.admin = stranger.app.state.admin        # the same server
    signed = admin.post("/admin/sign-in", data={"token": TOKEN}, follow_redirects=False)
    assert signed.status_code == 303 and admin.get("/admin").status_code == 200
    assert stranger.post("/admin/sign-in", data={"token": "guess"}).status_code == 429


def test_a_cross_site_post_is_refused_even_with_the_token(
        make_client: Callable[..., TestClient], mirror: FileServer) -> None:
    client = make_client()
    response = client.post("/api/admin/downloads", json={"engine": "adain"},
                           headers={**BEARER, "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403 and mirror.requests == []


# ----------------------------------------------------------------------------- downloads
def test_download_reports_progress_and_the_engine_becomes_ready(
        make_client: Callable[..., TestClient], mirror: FileServer,
        blobs: dict[str, Path], tmp_path: Path) -> None:
    client = make_client(lifespan=True)
    assert 'value="adain"' not in client.get("/").text               # not offered yet
    before = client.get("/api/admin/weights", headers=BEARER).json()
    assert not engine_of(before, "adain")["ready"]
    assert {f["state"] for f in files_of(before, "adain").values()} == {"missing"}

    started = client.post("/api/admin/downloads", json={"engine": "adain"}, headers=BEARER)
    assert started.status_code == 202
    assert started.json() == {"engine": "adain", "started": list(ADAIN)}
    after = wait_until_idle(client)

    assert engine_of(after, "adain")["ready"]
    cache = tmp_path / "cache"
    for name, file in files_of(after, "adain").items():
        size = blobs[name].stat().st_size
        assert file["state"] == "verified" and file["source"] == "cache"
        assert file["path"] == str(cache / name) and file["size"] == size
        assert file["download"] == {"state": "done", "received": size, "total": size,
                                    "message": "downloaded and verified"}
    assert leftovers(cache) == sorted(cache / name for name in ADAIN)   # no temporary files
    assert sorted(mirror.requests) == sorted(f"/{name}" for name in ADAIN)
    assert 'value="adain"' in client.get("/").text       # offered without a restart
    assert engine_of(after, "gatys")["ready"]         # it loads the same VGG-19 file
    page = client.get("/admin", headers=BEARER).text
    assert "downloaded and verified" in page and 'data-download="done"' in page
    again = client.post("/api/admin/downloads", json={"engine": "adain"}, headers=BEARER)
    assert again.status_code == 409 and "nothing to download" in again.json()["detail"]


def test_progress_is_reported_while_the_bytes_arrive(make_client: Callable[..., TestClient],
                                                     mirror: FileServer,
                                                     blobs: dict[str, Path]) -> None:
    from app.web.services.admin_downloads import DownloadTracker, run_downloads

    class RecordingTracker(DownloadTracker):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[tuple[int, int | None]] = []

        def update(self, file: Any, received: int, total: int | None) -> None:
            self.seen.append((received, total))
            super().update(file, received, total)

    store, tracker = make_client().app.state.weights, RecordingTracker()
    run_downloads(store, tracker, [store.pinned(ADAIN[0])])
    size = blobs[ADAIN[0]].stat().st_size
    assert [got for got, _ in tracker.seen] == [0, CHUNK_BYTES, 2 * CHUNK_BYTES, size]
    assert {total for _, total in tracker.seen[1:]} == {size}   # Content-Length: no pinned size
    assert tracker.snapshot()[ADAIN[0]].state == "done"


def test_a_wrong_hash_is_refused_and_leaves_nothing(make_client: Callable[..., TestClient],
                                                    mirror: FileServer, tmp_path: Path) -> None:
    mirror.routes[f"/{ADAIN[1]}"] = Route(b"not the decoder you pinned" * 1000)
    client = make_client()
    assert client.post("/api/admin/downloads", json={"engine": "adain"},
                       headers=BEARER).status_code == 202
    files = files_of(wait_until_idle(client), "adain")
    failed = files[ADAIN[1]]
    assert failed["state"] == "missing" and failed["download"]["state"] == "failed"
    assert "SHA-256" in failed["download"]["message"]
    assert "discarded" in failed["download"]["message"]
    assert files[ADAIN[0]]["download"]["state"] == "done"     # the other file still came
    cache = tmp_path / "cache"
    assert leftovers(cache) == [cache / ADAIN[0]]             # no decoder, no .part file
    page = client.get("/admin", headers=BEARER).text
    assert 'data-download="failed"' in page and "SHA-256" in page


def test_one_download_per_file_at_a_time(make_client: Callable[..., TestClient],
                                         mirror: FileServer) -> None:
    mirror.routes[f"/{ADAIN[0]}"] = Route(b"", hang=True)     # answers when the server stops
    client = make_client()
    first = client.post("/api/admin/downloads", json={"engine": "adain"}, headers=BEARER)
    assert first.status_code == 202
    second = client.post("/api/admin/downloads", json={"engine": "adain"}, headers=BEARER)
    assert second.status_code == 409 and "already being downloaded" in second.json()["detail"]
    shared = client.post("/api/admin/downloads", json={"engine": "gatys"}, headers=BEARER)
    assert shared.status_code == 409        # gatys needs only the VGG file, already on its way
    overview = client.get("/api/admin/weights", headers=BEARER).json()
    assert overview["downloading"]
    assert files_of(overview, "adain")[ADAIN[1]]["download"]["state"] == "queued"


def test_offline_mode_refuses_with_a_clear_message(make_client: Callable[..., TestClient],
                                                   mirror: FileServer) -> None:
    client = make_client(offline=True)
    response = client.post("/api/admin/downloads", json={"engine": "adain"}, headers=BEARER)
    assert response.status_code == 409
    assert "Offline mode is on (DREAMGEN_OFFLINE)" in response.json()["detail"]
    assert "import them from a folder" in response.json()["detail"]
    form = client.post("/admin/download", data={"engine": "adain"}, headers=BEARER)
    assert form.status_code == 409 and "Offline mode is on" in form.text
    page = client.get("/admin", headers=BEARER).text
    assert 'id="offline-note"' in page
    assert re.search(r'id="download-adain"\s+disabled', page)
    assert mirror.requests == []


def test_the_form_path_works_without_javascript(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    response = client.post("/admin/download", data={"engine": "adain"}, headers=BEARER,
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin"
    assert engine_of(wait_until_idle(client), "adain")["ready"]
    unknown = client.post("/admin/download", data={"engine": "nope"}, headers=BEARER)
    assert unknown.status_code == 422 and "unknown engine" in unknown.text
    api = client.post("/api/admin/downloads", json={"engine": "nope"}, headers=BEARER)
    assert api.status_code == 422 and "unknown engine" in api.json()["detail"]
    assert client.post("/api/admin/downloads", json={}, headers=BEARER).status_code == 422


def test_the_page_lists_every_engine_and_file(make_client: Callable[..., TestClient]) -> None:
    from app.engine.registry import listed_engines

    engines = listed_engines()        # the test session's broken engines are not listed
    page = make_client().get("/admin", headers=BEARER)
    assert page.status_code == 200
    assert 'data-engine="test-segfault"' not in page.text
    for spec in engines:
        assert f'data-engine="{spec.name}"' in page.text and spec.label in page.text
        for name in (*spec.weights, *getattr(spec, "optional_weights", ())):
            assert f'data-file="{name}"' in page.text
    assert "/static/admin.js" in page.text
    overview = make_client().get("/api/admin/weights", headers=BEARER).json()
    for spec, engine in zip(engines, overview["engines"], strict=True):
        optional = getattr(spec, "optional_weights", ())
        assert [f["name"] for f in engine["files"]] == list(dict.fromkeys(
            (*spec.weights, *optional)))
        assert {f["name"] for f in engine["files"] if f["optional"]} == \
            set(optional) - set(spec.weights)
        assert engine["complete"] == all(f["state"] == "verified" for f in engine["files"])


# ----------------------------------------------------------------------------- imports
def test_import_from_a_server_folder(make_client: Callable[..., TestClient],
                                     tmp_path: Path) -> None:
    usb = tmp_path / "usb" / "dreamgen"
    usb.mkdir(parents=True)
    for name in MICROAST:                 # renamed on the stick: recognised by hash
        shutil.copy(bundled_dir() / name, usb / f"copy-of-{name.rsplit('/', 1)[1]}")
    (usb / "holiday.jpg").write_bytes(b"\xff\xd8 not weights")
    client = make_client()
    assert not engine_of(client.get("/api/admin/weights", headers=BEARER).json(),
                         "microast")["ready"]

    report = client.post("/api/admin/import", json={"folder": str(usb.parent)}, headers=BEARER)
    assert report.status_code == 200
    body = report.json()
    cache = tmp_path / "cache"
    assert sorted(c["target"] for c in body["imported"]) == sorted(str(cache / n)
                                                                  for n in MICROAST)
    assert body["skipped"] == [str(usb / "holiday.jpg")] and body["already_present"] == []
    assert engine_of(client.get("/api/admin/weights", headers=BEARER).json(),
                     "microast")["ready"]

    page = client.post("/admin/import", data={"folder": str(usb)}, headers=BEARER)
    assert page.status_code == 200
    assert "0 imported</strong>, 4 already present" in page.text and "holiday.jpg" in page.text


@pytest.mark.parametrize("folder, reason", [
    ("", "Give the full path"), ("relative/folder", "Give the full path"),
    ("~no-such-user/weights", "Give the full path"), ("/no/such/folder", "does not exist"),
    ("/", "is a system folder"), ("/proc", "is a system folder"),
    ("/proc/self/fd", "is a system folder"), ("/sys", "is a system folder"),
    ("/dev", "is a system folder"), ("/" + "a" * 10_000, "longer than a path"),
    ("{data}", "the studio's own files"), ("{data}/media", "the studio's own files"),
    ("{tmp}", "the studio's own files")])
def test_import_refuses_what_it_cannot_use(make_client: Callable[..., TestClient],
                                           tmp_path: Path, folder: str, reason: str) -> None:
    client = make_client(lifespan=True)          # the database and media folder exist
    folder = folder.format(data=tmp_path / "data", tmp=tmp_path)
    response = client.post("/api/admin/import", json={"folder": folder}, headers=BEARER)
    assert response.status_code == 422 and reason in response.json()["detail"]
    page = client.post("/admin/import", data={"folder": folder}, headers=BEARER)
    assert page.status_code == 422 and reason in html.unescape(page.text)


def test_admin_endpoints_stay_out_of_the_public_api_document(
        make_client: Callable[..., TestClient]) -> None:
    paths = make_client().get("/openapi.json").json()["paths"]
    assert not [p for p in paths if "admin" in p]
