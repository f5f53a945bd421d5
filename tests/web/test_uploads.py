"""Every bad input is refused with a 4xx and a reason, and nothing is stored or queued.

Hostile files (bombs, truncated, disguised, playlists, polyglots) are the corpus of
tests/reliability/test_hostile_files.py; here are the form values and limits."""

from __future__ import annotations

import html
import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.settings import Settings
from app.web.main import create_app
from tests.support.images import png_bytes
from tests.web.conftest import image_files, job_count, submit, wait_for

BAD_INPUTS = {
    "bad style": (dict(files=image_files(None, b"GIF89a nonsense")), 422, "style image"),
    "missing style": (dict(files=image_files()[:1]), 422, "at least one style"),
    "unknown engine": (dict(engine="picasso"), 422, "unknown engine 'picasso'"),
    "alpha too big": (dict(alpha=1.5), 422, "style strength must be at most 1, not 1.5"),
    "alpha negative": (dict(alpha=-0.1), 422, "style strength must be at least 0"),
    "alpha not a number": (dict(alpha="nan"), 422, "style strength must be a finite number"),
    "alpha infinite": (dict(alpha="inf"), 422, "style strength must be a finite number"),
    "weights nan": (dict(style_weights="nan"), 422, "style weights must be a finite number"),
    "weights inf": (dict(style_weights="inf"), 422, "style weights must be a finite number"),
    "weights overflow": (dict(style_weights="1e308,1e308",
                              files=image_files(None, png_bytes(seed=3), png_bytes(seed=4))),
                         422, "style weights are too large"),
    "size too big": (dict(size=99999), 422, "output size"),
    "weights count": (dict(style_weights="1,2"), 422, "2 style weights given for 1"),
    "weights text": (dict(style_weights="a,b"), 422, "not numbers"),
    "no weights for engine": (dict(engine="adain"), 409,
                              "the Classic engine is not installed on this server; ask its admin"),
    "bad visibility": (dict(visibility="secret"), 422, "public or unlisted"),
    # too thin or too small for the engines' networks: refused at upload, not in the worker
    "thin style": (dict(files=image_files(None, png_bytes((10000, 2)))), 422,
                   "the style image is 10000x2, too thin to use"),
    "tall thin style": (dict(files=image_files(None, png_bytes((2, 3000)))), 422,
                        "at most 32 times as long as wide"),
    "thin guide": (dict(mode="dream", files=image_files(None, png_bytes((3000, 40)))), 422,
                   "too thin to use"),
    "narrow dream photo": (dict(mode="dream", size=512, files=image_files(png_bytes((1000, 20)))),
                           422, "makes 512x8 at 512 px; Deep Dream needs at least 32 px on "
                                "each side: choose a larger output size"),
    "small dream photo": (dict(mode="dream", size=64, files=image_files(png_bytes((20, 20)))),
                          422, "Deep Dream needs at least 32 px on each side: choose a larger "
                               "photo"),
    "narrow painterly photo": (dict(engine="gatys-lite", size=64,
                                    files=image_files(png_bytes((1000, 10)))),
                               422, "Painterly (slow) needs at least 32 px on each side"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_refused_with_a_reason(paused_client: TestClient, case: str) -> None:
    kwargs, status, reason = BAD_INPUTS[case]
    form = {k: v for k, v in kwargs.items() if k != "files"}
    response = submit(paused_client, kwargs.get("files"), **form)
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert job_count(paused_client) == 0
    assert paused_client.app.state.store.files() == set()


def test_narrow_pictures_within_the_engines_limits_are_taken(paused_client: TestClient) -> None:
    """The limits are the networks' own: a 25:1 style and a photo the Fast engine makes 8 px
    high are fine."""
    assert submit(paused_client, image_files(None, png_bytes((300, 12)))).status_code == 201
    assert submit(paused_client, image_files(png_bytes((1000, 10)))).status_code == 201
    dream = submit(paused_client, image_files(png_bytes((600, 50)), png_bytes((40, 40))),
                   mode="dream", size=512)
    assert dream.status_code == 201, dream.text


def test_the_form_shows_the_reason_on_the_page(paused_client: TestClient) -> None:
    response = paused_client.post("/create", files=image_files(b"not an image at all"),
                                  data={"engine": "microast"})
    assert response.status_code == 415
    assert "the content file is not an image" in response.text and "<form" in response.text
    assert job_count(paused_client) == 0


def test_over_the_byte_limit_is_413(make_settings) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings(max_upload_mb=1, run_worker=False))) as client:
        big = png_bytes() + b"\0" * (1024 * 1024)
        response = submit(client, image_files(big))
        assert response.status_code == 413 and "1 MiB limit" in response.json()["detail"]
        assert job_count(client) == 0 and client.app.state.store.files() == set()


def test_over_the_megapixel_limit_names_the_size(make_settings) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings(max_image_megapixels=0.001,
                                             run_worker=False))) as client:
        response = submit(client, image_files(png_bytes((100, 100))))
        assert response.status_code == 422
        assert "100x100; the limit is 0.001 megapixels" in response.json()["detail"]


def jpeg_with_gps_rotated() -> bytes:
    image = Image.new("RGB", (80, 40), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6                       # orientation: rotate 90° clockwise to view
    exif[0x010F] = "SpyCam"
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)   # GPSLatitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def test_uploads_are_stored_upright_without_exif_or_gps(paused_client: TestClient) -> None:
    data = jpeg_with_gps_rotated()
    assert b"SpyCam" in data
    job = submit(paused_client, image_files(data)).json()
    served = paused_client.get(job["links"]["content"])
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (40, 80)            # orientation applied
    assert not image.getexif() and b"SpyCam" not in served.content


def test_animated_gif_counts_as_a_video_and_static_gif_as_an_image(
        paused_client: TestClient) -> None:
    frames = [Image.new("RGB", (64, 48), (i * 60, 100, 200 - i * 60)) for i in range(4)]
    animated, still = io.BytesIO(), io.BytesIO()
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=100)
    frames[0].save(still, "GIF")
    video = submit(paused_client, [("content", ("a.gif", animated.getvalue(), "image/gif")),
                                   ("style", ("s.png", png_bytes(), "image/png"))])
    image = submit(paused_client, [("content", ("b.gif", still.getvalue(), "image/gif")),
                                   ("style", ("s.png", png_bytes(), "image/png"))])
    assert video.status_code == 201, video.text
    assert (video.json()["kind"], image.json()["kind"]) == ("video", "image")
    painterly = submit(paused_client, [("content", ("a.gif", animated.getvalue(), "image/gif")),
                                       ("style", ("s.png", png_bytes(), "image/png"))],
                       engine="gatys-lite")
    assert painterly.status_code == 201, painterly.text      # painterly clips are made too
    assert painterly.json()["kind"] == "video" and job_count(paused_client) == 3


def test_media_route_refuses_traversal(paused_client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for path in ("/media/../dreamgen.db", "/media/%2e%2e/dreamgen.db", "/media/..%2fdreamgen.db"):
        assert paused_client.get(path).status_code == 404


def test_settings_is_not_shared_between_apps(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert create_app(Settings(data_dir=tmp_path)).state.settings.data_dir == tmp_path


def test_a_declared_body_far_over_the_limit_is_refused_unread(make_settings) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings(max_upload_mb=1, run_worker=False))) as client:
        response = client.post("/api/jobs", content=b"x" * 100,
                               headers={"content-length": str(50 * 2**20),
                                        "content-type": "multipart/form-data; boundary=x"})
        assert response.status_code == 413 and "1 MiB" in response.json()["detail"]


def test_jobs_per_minute_are_limited(make_settings) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings(rate_limit_per_minute=2,
                                             run_worker=False))) as client:
        assert [submit(client).status_code for _ in range(2)] == [201, 201]
        refused = submit(client)
        assert refused.status_code == 429 and "2 a minute" in refused.json()["detail"]
        assert job_count(client) == 2


def test_owner_cookie_is_http_only_and_same_site(paused_client: TestClient) -> None:
    header = TestClient(paused_client.app).get("/gallery").headers["set-cookie"].lower()
    assert "dreamgen_owner=" in header and "httponly" in header and "samesite=lax" in header


COMMUNITY_API = {"/api/auth/signup", "/api/auth/signin", "/api/auth/signout", "/api/auth/me",
                 "/api/auth/reset", "/api/me/allowance", "/api/jobs/cost",
                 "/api/account/profile", "/api/account/avatar", "/api/account/password",
                 "/api/account/delete", "/api/account/export", "/api/users/{name}",
                 "/api/users/{name}/results", "/api/users/{name}/collections",
                 "/api/users/{name}/follow", "/api/jobs/{job_id}/likes",
                 "/api/jobs/{job_id}/comments", "/api/comments/{comment_id}",
                 "/api/jobs/{job_id}/reports", "/api/comments/{comment_id}/reports",
                 "/api/collections", "/api/collections/shared/{token}",
                 "/api/collections/{collection_id}", "/api/collections/{collection_id}/items",
                 "/api/collections/{collection_id}/items/{job_id}"}

# many photos at once (tests/batches/)
BATCH_API = {"/api/batches", "/api/batches/{batch_id}", "/api/batches/{batch_id}/events",
             "/api/batches/{batch_id}/download", "/api/batches/{batch_id}/retry"}


def test_openapi_documents_the_json_api_only(paused_client: TestClient) -> None:
    schema = paused_client.get("/openapi.json").json()
    paths = set(schema["paths"])
    assert BATCH_API <= paths
    assert paths - BATCH_API == {"/api/jobs", "/api/jobs/{job_id}",
                                    "/api/jobs/{job_id}/events", "/api/jobs/{job_id}/cancel",
                                    "/api/gallery", "/api/engines", "/api/styles",
                                    "/api/me/jobs", "/api/jobs/{job_id}/retry",
                                    "/api/jobs/{job_id}/trash", "/api/jobs/{job_id}/restore",
                                    "/api/jobs/{job_id}/strength-preview",
                                    "/api/jobs/{job_id}/versions", "/api/jobs/{job_id}/enhance",
                                    "/api/jobs/{job_id}/deeper"} | COMMUNITY_API | \
        {"/api/train", "/api/models", "/api/models/{model_id}"}
    created = schema["paths"]["/api/jobs"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/JobOut")


def test_the_api_page_is_served_from_the_package_and_needs_no_internet(
        paused_client: TestClient) -> None:
    """/docs loaded Swagger UI from a CDN and was blank offline: now it is HTML made here from
    the same OpenAPI document, under the site's own strict CSP, with no script at all."""
    schema = paused_client.get("/openapi.json").json()
    page = paused_client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "http" not in policy and "unsafe" not in \
        policy.replace("style-src-attr 'unsafe-inline'", "")
    text = page.text
    assert "<script" not in text and "cdn" not in text.lower()
    assert not re.search(r'(src|href)="(https?:)?//', text)        # nothing from elsewhere
    for path, item in schema["paths"].items():
        for method in item:
            assert f"<code>{method.upper()} {html.escape(path)}</code>" in text, (method, path)
    assert 'id="shape-JobOut"' in text and 'href="#shape-JobOut"' in text
    assert "<code>measured_runs</code>" in text and "Deep Dream: what the dream sees" in text
    assert paused_client.get("/redoc", follow_redirects=False).headers["location"] == "/docs"


@pytest.mark.parametrize("fmt,suffix", [("WEBP", ".png"), ("HEIF", ".jpg"), ("JPEG", ".jpg")])
def test_webp_heic_and_jpeg_are_accepted(paused_client: TestClient, fmt: str,
                                         suffix: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buffer, fmt)
    job = submit(paused_client, image_files(buffer.getvalue()))
    assert job.status_code == 201, job.text
    assert job.json()["links"]["content"].endswith(suffix)
    served = Image.open(io.BytesIO(paused_client.get(job.json()["links"]["content"]).content))
    assert served.size == (64, 48)


def _big_png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (90, 120, 160))
    image.paste((200, 60, 40), (0, 0, width // 2, height // 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def test_the_megapixel_limit_comes_from_the_settings_all_the_way_to_the_engine(
        make_settings) -> None:  # type: ignore[no-untyped-def]
    """An image between the default 40 MP and a raised limit passes the upload and the job
    (the engines used to hard-code 40 MP and fail the queued job)."""
    big = _big_png(7500, 6000)                                         # 45 MP
    with TestClient(create_app(make_settings(run_worker=False))) as client:
        refused = submit(client, image_files(big))
        assert refused.status_code == 422 and "limit is 40 megapixels" in refused.json()["detail"]
    with TestClient(create_app(make_settings(max_image_megapixels=60))) as client:
        created = submit(client, image_files(big), size=64)
        assert created.status_code == 201, created.text
        done = wait_for(client, created.json()["id"], timeout_s=240)
        assert done["state"] == "succeeded", done["error"]
        assert (done["width"], done["height"]) == (64, 48)
