"""The original photo is its owner's: others get no link to it, a 404 from the media route,
and pages that say "Result"; the owner may choose to show it. File names stay private: others
see the title the owner typed, else "Untitled", on every page, feed and download; the owner's
own downloads are named after the uploads, in safe ASCII. The create form says what becomes
public before the click."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from app.people.titles import download_name, title_from_name
from tests.support.images import png_bytes
from tests.web.conftest import submit, wait_for
from tests.web.test_me import another_browser


def named_files(content: str, *styles: str) -> list[tuple[str, tuple]]:
    files = [("content", (content, png_bytes(), "image/png"))]
    files += [("style", (name, png_bytes(seed=3 + i), "image/png")) for i, name in enumerate(styles)]
    return files


@pytest.fixture
def finished(client: TestClient) -> dict:
    job = submit(client, files=named_files("Chelsea the Cat.PNG", "Brick wall, Köln.png")).json()
    return wait_for(client, job["id"])


def test_others_never_see_the_original_photo(client: TestClient, finished: dict) -> None:
    original = finished["links"]["content"]
    assert original and client.get(original).status_code == 200
    assert client.get(original).headers["cache-control"] == "private, no-store"
    other = another_browser(client)
    seen = other.get(f"/api/jobs/{finished['id']}").json()
    assert seen["links"]["content"] is None and seen["show_original"] is False
    assert other.get(original).status_code == 404                 # the URL leaked: still no
    page = other.get(f"/jobs/{finished['id']}").text
    assert original not in page and "Original photo" not in page
    assert "Result" in page and "Your picture is ready" not in page
    assert "Your picture is ready" in client.get(f"/jobs/{finished['id']}").text
    assert other.get(seen["links"]["styles"][0]).status_code == 200   # styles are not private
    result = other.get(seen["links"]["result"])
    assert result.status_code == 200
    # public, but kept by caches only for minutes: hiding or deleting it must take effect
    assert result.headers["cache-control"] == "public, max-age=300, must-revalidate"


def test_the_owner_may_show_the_original(client: TestClient, finished: dict) -> None:
    other = another_browser(client)
    assert other.patch(f"/api/jobs/{finished['id']}", json={"show_original": True}).status_code \
        == 403
    saved = client.post(f"/jobs/{finished['id']}/details",
                        data={"title": "Chelsea", "show_original": "true"}, follow_redirects=False)
    assert saved.status_code == 303
    assert "Saved." in client.get(saved.headers["location"]).text
    seen = other.get(f"/api/jobs/{finished['id']}").json()
    assert seen["show_original"] and seen["links"]["content"] == finished["links"]["content"]
    assert other.get(seen["links"]["content"]).status_code == 200
    assert seen["title"] == "Chelsea"
    client.patch(f"/api/jobs/{finished['id']}", json={"show_original": False})
    assert other.get(finished["links"]["content"]).status_code == 404


def test_the_create_form_can_show_the_original_from_the_start(paused_client: TestClient) -> None:
    job = submit(paused_client, show_original="true", title="Open book").json()
    assert job["show_original"] and job["title"] == "Open book"
    other = another_browser(paused_client)
    assert other.get(f"/api/jobs/{job['id']}").json()["links"]["content"] == job["links"]["content"]


def test_downloads_are_named_after_the_uploads(client: TestClient, finished: dict) -> None:
    link = finished["links"]["download"]
    assert link == f"/jobs/{finished['id']}/download"
    response = client.get(link)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == \
        f'attachment; filename="dreamgen-chelsea-the-cat-brick-wall-koln-{finished["id"]}.png"'
    assert response.content == client.get(finished["links"]["result"]).content
    assert "content-disposition" not in client.get(finished["links"]["result"]).headers
    theirs = another_browser(client).get(link)                        # a public result
    assert theirs.status_code == 200 and theirs.content == response.content
    # others' copy is named after its public title, never after the files that went in
    assert theirs.headers["content-disposition"] == \
        f'attachment; filename="dreamgen-result-{finished["id"]}.png"'
    assert "Cookie" in theirs.headers["vary"]


def test_file_names_are_never_published(client: TestClient) -> None:
    job = submit(client, files=named_files("Anna Schmidt passport scan.jpg",
                                           "Anna's kid drawing.png")).json()
    done = wait_for(client, job["id"])
    assert done["title"] == "Anna Schmidt passport scan" and not done["title_chosen"]
    owner_page = client.get(f"/jobs/{job['id']}").text               # the owner sees it
    assert "Anna Schmidt passport scan" in owner_page
    assert 'placeholder="Anna Schmidt passport scan"' in owner_page   # not the field's value
    assert "Others see “Untitled” until you type a title" in owner_page
    other = another_browser(client)
    seen = other.get(f"/api/jobs/{job['id']}").json()
    assert seen["title"] == "Untitled" and not seen["title_chosen"]
    share = other.get(done["links"]["share"])
    pages = {"result": other.get(f"/jobs/{job['id']}"), "r": other.get(f"/r/{job['id']}"),
             "share": share, "gallery": other.get("/gallery"),
             "api gallery": other.get("/api/gallery"), "job json": other.get(
                 f"/api/jobs/{job['id']}"), "events": other.get(f"/api/jobs/{job['id']}/events"),
             "styles": other.get("/styles"), "owner's gallery": client.get("/gallery"),
             "owner's api gallery": client.get("/api/gallery")}
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert "Anna" not in response.text and "passport" not in response.text, name
    assert '<meta property="og:title" content="A picture painted with dreamgen">' in share.text
    assert "<title>Untitled · painted with dreamgen</title>" in share.text
    download = other.get(done["links"]["download"]).headers["content-disposition"]
    assert "anna" not in download.lower() and "passport" not in download
    assert "anna-schmidt-passport-scan" in client.get(done["links"]["download"]).headers[
        "content-disposition"]                                        # the owner's own copy
    # a title the owner typed is what everyone sees, on every page and download
    client.patch(f"/api/jobs/{job['id']}", json={"title": "Summer"})
    assert other.get(f"/api/jobs/{job['id']}").json()["title"] == "Summer"
    assert "Summer" in other.get("/gallery").text
    assert f'filename="dreamgen-summer-{job["id"]}.png"' in other.get(
        done["links"]["download"]).headers["content-disposition"]


def test_the_create_form_says_what_becomes_public(paused_client: TestClient) -> None:
    page = paused_client.get("/").text
    notice = page[page.index('id="publish"'):page.index('id="generate"')]  # before Generate
    assert "The result goes in the gallery for anyone to see" in notice
    assert "only people you give its link to can see it" in notice
    assert "file names are never shown to others" in notice
    assert 'name="share_styles"' in notice and "public style library" in notice
    assert 'id="share-styles" checked' not in notice                     # off by default
    assert 'name="title"' in notice
    job = submit(paused_client, title="Open book").json()
    assert another_browser(paused_client).get(f"/api/jobs/{job['id']}").json()["title"] == \
        "Open book"


def test_a_job_without_a_result_has_no_download(paused_client: TestClient) -> None:
    job = submit(paused_client).json()
    assert job["links"]["download"] is None
    assert paused_client.get(f"/jobs/{job['id']}/download").status_code == 404
    assert paused_client.get("/jobs/nope/download").status_code == 404


def fake_job(**values: object) -> SimpleNamespace:
    fields = dict(content_name="photo.png", style_names=["style.png"], style_paths=["s"],
                  kind="image", engine="microast", public_id="Ab-c_9", title=None,
                  owner_id="its-owner")
    fields.update(values)
    return SimpleNamespace(**fields)


@pytest.mark.parametrize("values,name", [
    ({}, "dreamgen-photo-style-Ab-c_9.png"),
    ({"content_name": 'C:\\Users\\me\\Été "2024".JPG'}, "dreamgen-ete-2024-style-Ab-c_9.png"),
    ({"content_name": "../../etc/passwd"}, "dreamgen-passwd-style-Ab-c_9.png"),
    ({"content_name": "日本.png", "style_names": ["🎨.png"]}, "dreamgen-photo-style-Ab-c_9.png"),
    ({"content_name": None, "style_names": []}, "dreamgen-photo-style-Ab-c_9.png"),
    ({"style_names": ["a.png", "b.png"], "style_paths": ["s", "t"]},
     "dreamgen-photo-a-and-1-more-Ab-c_9.png"),
    ({"style_names": [], "style_paths": [], "engine": "deepdream"},
     "dreamgen-photo-deepdream-Ab-c_9.png"),
    ({"kind": "video", "content_name": "Clip.MOV"}, "dreamgen-clip-style-Ab-c_9.mp4"),
    ({"content_name": "x" * 300 + ".png"}, "dreamgen-" + "x" * 40 + "-style-Ab-c_9.png"),
])
def test_download_names_are_safe_ascii(values: dict, name: str) -> None:
    assert download_name(fake_job(**values), "its-owner") == name  # type: ignore[arg-type]


@pytest.mark.parametrize("values,name", [
    ({}, "dreamgen-result-Ab-c_9.png"),
    ({"content_name": "Anna Schmidt passport.png"}, "dreamgen-result-Ab-c_9.png"),
    ({"title": "Étude №5"}, "dreamgen-etude-no5-Ab-c_9.png"),
    ({"kind": "video", "title": "日本"}, "dreamgen-result-Ab-c_9.mp4"),
])
def test_others_download_names_come_from_the_title_only(values: dict, name: str) -> None:
    for viewer in (None, "someone-else"):
        assert download_name(fake_job(**values), viewer) == name  # type: ignore[arg-type]


def test_titles_come_from_file_names() -> None:
    assert title_from_name("chelsea_at-home.png") == "Chelsea at home"
    assert title_from_name("/tmp/x/.hidden") == "Hidden"
    assert title_from_name("") is None and title_from_name(None) is None
