"""The style library through HTTP: listing (most used first, each image once by content,
only public results whose owner offered their styles), picking with ``style_id`` (alone,
repeated, with uploads, refused when hidden, unknown or someone else's unlisted upload), the
admin's curated styles and hiding (a hidden style is neither served nor used anywhere)."""

from __future__ import annotations

import io
from typing import Any, Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.settings import Settings
from app.web.main import create_app
from tests.support.images import png_bytes
from tests.web.conftest import image_files, stored_files, submit, wait_for

TOKEN = "library-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
A, B, C = png_bytes(seed=11), png_bytes(seed=12), png_bytes(seed=13)
PA, PB, PC = (pixels_of := lambda d: Image.open(io.BytesIO(d)).convert("RGB").tobytes())(A), \
    pixels_of(B), pixels_of(C)


@pytest.fixture
def studio(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(admin_token=TOKEN))) as client:
        yield client


def made(client: TestClient, *styles: bytes, **form: Any) -> dict[str, Any]:
    """A finished job with these style images (microast, 96 px), offered to the library
    unless ``share_styles`` says otherwise."""
    created = submit(client, image_files(None, *styles), **{"share_styles": "true", **form})
    assert created.status_code == 201, created.text
    done = wait_for(client, created.json()["id"])
    assert done["state"] == "succeeded", done["error"]
    return done


def listed(client: TestClient) -> list[dict[str, Any]]:
    return client.get("/api/styles").json()["styles"]


def pixels(data: bytes) -> bytes:
    """An image's pixels (stored files are clean re-encodes, not the uploaded bytes)."""
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").tobytes()


def style_ids(client: TestClient) -> dict[bytes, int]:
    """Library id by the pixels of the original upload, for the listed styles."""
    return {pixels(client.get(s["image"]).content): s["id"] for s in listed(client)}


def styles_of(client: TestClient, job: dict[str, Any]) -> list[bytes]:
    return [pixels(client.get(url).content) for url in job["links"]["styles"]]


def test_listing_is_by_use_and_content_and_public_only(studio: TestClient) -> None:
    made(studio, A)
    made(studio, A, B)                        # A again (same bytes: the same library style)
    made(studio, B)
    made(studio, A)
    made(studio, C, visibility="unlisted")    # only an unlisted result: not listed
    styles = listed(studio)
    assert [s["uses"] for s in styles] == [3, 2]
    assert set(style_ids(studio)) == {PA, PB}
    first, second = styles
    assert studio.get(first["image"]).content != studio.get(second["image"]).content
    assert first["use"] == f"/?style_id={first['id']}" and not first["curated"]
    thumb = studio.get(first["thumb"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    page = studio.get("/styles").text
    assert f'href="/?style_id={first["id"]}"' in page and "used in 3 results" in page
    body = studio.get("/api/styles").json()
    assert (body["total"], body["pages"], body["page"]) == (2, 1, 1)


def test_a_dream_guide_is_no_style(studio: TestClient) -> None:
    made(studio, A, engine="", mode="dream", size="64", octaves="1", dream_iterations="1")
    assert listed(studio) == []


def test_style_id_alone_repeated_and_after_uploads(studio: TestClient) -> None:
    made(studio, A)
    made(studio, B)
    ids = style_ids(studio)
    content = [("content", ("c.png", png_bytes(seed=5), "image/png"))]
    alone = studio.post("/api/jobs", files=content, data={"engine": "microast", "size": "64",
                                                          "style_id": str(ids[PA])})
    assert alone.status_code == 201, alone.text
    job = wait_for(studio, alone.json()["id"])
    assert job["state"] == "succeeded" and styles_of(studio, job) == [PA]
    library = {s["id"]: s["image"] for s in listed(studio)}
    assert job["links"]["styles"][0] != library[ids[PA]]                 # its own copy
    assert studio.get(job["links"]["styles"][0]).content == \
        studio.get(library[ids[PA]]).content

    both = studio.post("/api/jobs", files=content, data={
        "engine": "microast", "size": "64", "style_id": [str(ids[PB]), str(ids[PA])],
        "style_weights": "3,1"})
    assert both.status_code == 201, both.text
    assert styles_of(studio, both.json()) == [PB, PA]
    assert both.json()["options"]["style_weights"] == [3.0, 1.0]

    mixed = studio.post("/api/jobs", files=[*content, ("style", ("c.png", C, "image/png"))],
                        data={"engine": "microast", "size": "64", "style_id": str(ids[PA]),
                              "share_styles": "true"})
    assert mixed.status_code == 201, mixed.text
    assert styles_of(studio, mixed.json()) == [PC, PA]
    wait_for(studio, both.json()["id"])
    wait_for(studio, mixed.json()["id"])
    assert [s["uses"] for s in listed(studio)] == [4, 2, 1]     # A, B, then C


def test_unknown_unlisted_and_bad_style_ids_are_refused(studio: TestClient) -> None:
    made(studio, C, visibility="unlisted")
    with studio.app.state.session_factory() as session:
        from sqlalchemy import select

        from app.db.models import StyleImage
        unlisted_id = session.scalar(select(StyleImage.id))
    content = [("content", ("c.png", png_bytes(seed=5), "image/png"))]
    stranger = TestClient(studio.app)
    cases = {"99999": (404, "there is no style 99999 in the library"),
             str(unlisted_id): (404, f"there is no style {unlisted_id}"),
             "abc": (422, "style_id must be the number of a style"),
             "123456789012345": (404, "there is no style")}
    for value, (status, reason) in cases.items():
        refused = stranger.post("/api/jobs", files=content,
                                data={"engine": "microast", "size": "64", "style_id": value})
        assert refused.status_code == status and reason in refused.json()["detail"], value
    # its owner may reuse their own unlisted upload ("try again")
    own = studio.post("/api/jobs", files=content, data={"engine": "microast", "size": "64",
                                                        "style_id": str(unlisted_id)})
    assert own.status_code == 201, own.text


def test_hidden_styles_are_never_listed_nor_usable(studio: TestClient) -> None:
    made(studio, A)
    made(studio, B)
    ids = {k: v for k, v in zip((A, B), (style_ids(studio)[PA], style_ids(studio)[PB]))}
    assert studio.patch(f"/api/admin/styles/{ids[A]}", json={"hidden": True}).status_code == 403
    hidden = studio.patch(f"/api/admin/styles/{ids[A]}", json={"hidden": True}, headers=ADMIN)
    assert hidden.status_code == 200
    assert [s["id"] for s in listed(studio)] == [ids[B]]
    assert f'id="style-{ids[A]}"' not in studio.get("/styles").text
    refused = submit(studio, [("content", ("c.png", png_bytes(seed=5), "image/png"))],
                     style_id=ids[A])
    assert refused.status_code == 404 and "taken out of the library" in refused.json()["detail"]
    admin_page = studio.get("/styles", headers=ADMIN).text
    assert 'id="hidden-styles"' in admin_page and f"/admin/styles/{ids[A]}/show" in admin_page
    assert studio.patch(f"/api/admin/styles/{ids[A]}", json={"hidden": False},
                        headers=ADMIN).status_code == 200
    assert {s["id"] for s in listed(studio)} == {ids[A], ids[B]}
    assert studio.patch("/api/admin/styles/777", json={"hidden": True},
                        headers=ADMIN).status_code == 404


def test_a_style_enters_the_library_only_when_its_owner_offers_it(studio: TestClient) -> None:
    quiet = made(studio, A, share_styles="false")          # the page's default: not offered
    assert listed(studio) == []
    stranger = TestClient(studio.app)
    assert stranger.get(quiet["links"]["styles"][0]).status_code == 200   # beside its result
    # reusing someone's styles cannot put them in the library either
    content = [("content", ("c.png", png_bytes(seed=5), "image/png"))]
    reused = stranger.post("/api/jobs", files=content, data={
        "engine": "microast", "size": "64", "style_from": quiet["id"], "share_styles": "true"})
    assert reused.status_code == 201, reused.text
    wait_for(stranger, reused.json()["id"])
    assert listed(studio) == []
    retried = studio.post(f"/api/jobs/{quiet['id']}/retry").json()   # nor a retry
    wait_for(studio, retried["id"])
    assert listed(studio) == []
    offered = made(studio, B)                              # ticked: listed
    assert set(style_ids(studio)) == {PB}
    # a pick from the library counts as a use, ticked or not
    picked = stranger.post("/api/jobs", files=content, data={
        "engine": "microast", "size": "64", "style_id": str(style_ids(studio)[PB])})
    wait_for(stranger, picked.json()["id"])
    assert [s["uses"] for s in listed(studio)] == [2]
    assert studio.delete(f"/api/jobs/{offered['id']}").status_code == 204
    assert [s["uses"] for s in listed(studio)] == [1]      # the pick keeps it listed


def test_a_hidden_style_is_neither_served_nor_used_anywhere(studio: TestClient) -> None:
    job = made(studio, A)
    [style] = listed(studio)
    stranger = TestClient(studio.app)
    assert studio.patch(f"/api/admin/styles/{style['id']}", json={"hidden": True},
                        headers=ADMIN).status_code == 200
    for url in (style["image"], style["thumb"], job["links"]["styles"][0]):
        assert stranger.get(url).status_code == 404, url
        assert studio.get(url).status_code == 404, url           # its uploader's too
        assert stranger.get(url, headers=ADMIN).status_code == 200, url
    content = [("content", ("c.png", png_bytes(seed=5), "image/png"))]
    for client in (studio, stranger):
        reuse = client.get(f"/?style_from={job['id']}").text
        assert "taken out of the library" in reuse and 'name="style_from"' not in reuse
        taken = client.post("/api/jobs", files=content, data={
            "engine": "microast", "size": "64", "style_from": job["id"]})
        assert taken.status_code == 409 and "taken out of the library" in taken.json()["detail"]
    retry = studio.post(f"/api/jobs/{job['id']}/retry")
    assert retry.status_code == 409 and "taken out of the library" in retry.json()["detail"]
    edit = studio.get(f"/?from={job['id']}").text
    assert "took a style of that job out of the library" in edit
    assert f'name="style_id" value="{style["id"]}"' not in edit
    assert job["links"]["styles"][0] not in edit
    version = studio.post(f"/api/jobs/{job['id']}/versions", json={"alpha": 0.5})
    assert version.status_code == 409 and "taken out of the library" in version.json()["detail"]


def test_the_admin_adds_curated_styles(studio: TestClient) -> None:
    empty = studio.get("/styles", headers=ADMIN).text          # a new studio: how to seed it
    assert 'id="library-empty"' in empty and "dreamgen styles add FILE..." in empty
    assert "dreamgen styles add" not in studio.get("/styles").text   # visitors: no commands
    upload = {"style": ("starry.png", A, "image/png")}
    assert studio.post("/api/admin/styles", files=upload).status_code == 403
    added = studio.post("/api/admin/styles", files=upload, data={"title": "Starry"},
                        headers=ADMIN)
    assert added.status_code == 201, added.text
    again = studio.post("/api/admin/styles", files=upload, headers=ADMIN)
    assert again.json()["id"] == added.json()["id"]                    # the same image once
    [style] = listed(studio)
    assert (style["curated"], style["uses"], style["title"]) == (True, 0, "Starry")
    assert pixels(studio.get(style["image"]).content) == PA
    bogus = studio.post("/api/admin/styles", headers=ADMIN,
                        files={"style": ("notes.png", b"just text", "image/png")})
    assert bogus.status_code == 415 and "not an image" in bogus.json()["detail"]
    form = studio.post("/admin/styles", files={"style": ("b.png", B, "image/png")},
                       headers=ADMIN, follow_redirects=False)
    assert form.status_code == 303 and "added=" in form.headers["location"]
    assert len(listed(studio)) == 2
    made(studio, B)
    assert [s["uses"] for s in listed(studio)] == [1, 0]               # used first


def test_a_deleted_result_takes_its_upload_out_of_the_library(studio: TestClient) -> None:
    job = made(studio, A)
    assert len(listed(studio)) == 1
    assert studio.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert listed(studio) == []
    assert not any(path.startswith("styles/") for path in stored_files(studio))


def test_a_clash_adding_the_same_new_style_is_tried_once_more(
        paused_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests adding one new style at once: the loser's commit fails on the unique
    hash; its library files are removed and it is tried again, once."""
    from sqlalchemy.exc import IntegrityError

    from app.web.create import submit as submit_module

    real, calls = submit_module.register_styles, []

    def clashing(session, store, rels, made, *args, **kwargs):  # type: ignore[no-untyped-def]
        ids = real(session, store, rels, made, *args, **kwargs)
        calls.append(list(made))
        if len(calls) == 1:
            raise IntegrityError("INSERT INTO style_images", {}, Exception("UNIQUE"))
        return ids

    monkeypatch.setattr(submit_module, "register_styles", clashing)
    before = stored_files(paused_client)
    created = submit(paused_client)
    assert created.status_code == 201, created.text
    assert len(calls) == 2 and calls[0]                  # the first try made library files...
    assert not set(calls[0]) & stored_files(paused_client)   # ...and they were removed
    assert stored_files(paused_client) - before               # the second try's are kept
