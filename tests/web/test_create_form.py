"""The create form's quality choices (presets fill what is left blank, match the docs), the
mode switch without JavaScript, and ``/?from=<job>``: every setting and the job's own files,
for its owner only."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.engine.options import StyleOptions
from app.engine.presets import PRESETS
from app.web.main import create_app
from tests.support.images import png_bytes
from tests.web.conftest import image_files, job_count, stored_files, submit, wait_for

DOCS = Path(__file__).resolve().parents[2] / "docs" / "engines.md"


def queued(client: TestClient, files: list | None = None, **form: str) -> dict:
    """A job made with exactly these fields (no engine or size unless given)."""
    response = client.post("/api/jobs", files=files or image_files(), data=form)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_fills_what_is_left_blank(paused_client: TestClient, name: str) -> None:
    preset = PRESETS[name]
    options = queued(paused_client, preset=name)["options"]
    engine = "gatys-lite" if name == "best" else preset.engines[0]   # gatys not installed here
    defaults = StyleOptions()      # what a preset whose engines do not iterate leaves alone
    assert (options["engine"], options["size"], options["iterations"], options["enhance"],
            options["preset"]) == (engine, preset.size, preset.iterations or defaults.iterations,
                                   preset.enhance or defaults.enhance, name)
    # a photo with room for every quality's octaves (a smaller one gets fewer: see below)
    dream = queued(paused_client, image_files(png_bytes((320, 240))), preset=name,
                   mode="dream")["options"]
    assert (dream["engine"], dream["size"], dream["octaves"], dream["dream_iterations"]) == \
        ("deepdream", preset.dream_size, preset.octaves, preset.dream_iterations)


def test_explicit_fields_win_over_the_preset(paused_client: TestClient) -> None:
    options = queued(paused_client, preset="best", engine="microast", size="256",
                     iterations="50")["options"]
    assert (options["engine"], options["size"], options["iterations"]) == ("microast", 256, 50)
    assert options["enhance"] == PRESETS["best"].enhance           # what was left blank
    plain = queued(paused_client)["options"]                         # no preset: as before
    assert (plain["engine"], plain["size"], plain["iterations"], plain["preset"]) == \
        ("microast", 512, 300, None)
    refused = paused_client.post("/api/jobs", files=image_files(), data={"preset": "ultra"})
    assert refused.status_code == 422 and "quality must be one of fast, balanced, best" in \
        refused.json()["detail"]


def test_a_preset_stays_within_the_servers_size_limit(make_settings) -> None:  # type: ignore[no-untyped-def]
    from app.web.main import create_app

    with TestClient(create_app(make_settings(run_worker=False, max_output_side=600))) as client:
        assert queued(client, preset="best")["options"]["size"] == 600


def test_the_presets_are_documented_with_their_values() -> None:
    text = DOCS.read_text()
    for name, p in PRESETS.items():
        row = f"| {p.label} (`{name}`) | {' or '.join(f'`{e}`' for e in p.engines)} | " \
              f"{p.size} | {p.iterations or '–'} | {p.enhance if p.enhance is not None else '–'} | " \
              f"{p.dream_size} | {p.octaves} | {p.dream_iterations} |"
        assert row in text, f"docs/engines.md lacks the row {row!r}"


def test_the_page_offers_the_presets_and_both_modes(paused_client: TestClient) -> None:
    page = paused_client.get("/").text
    assert re.search(r'name="preset" value="balanced"[^>]*checked', page)
    for p in PRESETS.values():
        assert f"<strong>{p.label}</strong>" in page
    assert 'name="mode" value="style"' in page and 'name="mode" value="dream"' in page
    # without JavaScript both boxes are there; the radio decides on the server
    assert 'id="style-drop"' in page and 'id="guide-drop"' in page
    assert 'id="more-settings"' in page and "Brush size" in page and "Enhance" in page


def test_a_dream_from_the_form_without_a_style(client: TestClient) -> None:
    files = [("content", ("photo.png", png_bytes(), "image/png")),
             ("style", ("", b"", "application/octet-stream")),
             ("guide", ("", b"", "application/octet-stream"))]
    response = client.post("/create", files=files, follow_redirects=False, data={
        "mode": "dream", "preset": "fast", "size": "64", "octaves": "1",
        "dream_iterations": "2", "depth": "textures", "style_scale": "1", "alpha": "1"})
    assert response.status_code == 303, response.text
    job = wait_for(client, response.headers["location"].rsplit("/", 1)[1])
    assert job["state"] == "succeeded", job["error"]
    assert job["engine"] == "deepdream" and job["links"]["styles"] == []
    # its pages speak of the dream, not of a style it never had
    page = client.get(f"/r/{job['id']}").text
    assert f"Deep Dream · {job['width']}×{job['height']}" in page
    assert "Deep Dream · Deep Dream" not in page and 'id="reuse"' not in page
    assert ("<dt>What the dream sees</dt><dd>textures <small>(fine grain, like brush "
            "strokes)</small></dd>") in page
    assert "<dt>Steps per octave</dt><dd>2</dd>" in page and "Style strength" not in page
    assert "<dt>Size limit</dt><dd>64 px</dd>" in page          # the 64 px photo fills it
    share = client.get(job["links"]["share"]).text
    assert "Made with <strong>Deep Dream</strong></p>" in share and 'id="reuse"' not in share


def test_the_style_box_is_ignored_in_dream_mode_when_a_guide_is_given(
        paused_client: TestClient) -> None:
    files = [*image_files(None, png_bytes(seed=3), png_bytes(seed=4)),
             ("guide", ("g.png", png_bytes(seed=9), "image/png"))]
    job = queued(paused_client, files, mode="dream", size="64")
    assert len(job["links"]["styles"]) == 1


def test_from_prefills_every_setting_and_the_files_for_the_owner(client: TestClient) -> None:
    first = wait_for(client, submit(client, image_files(None, png_bytes(seed=3),
                                                        png_bytes(seed=4)),
                                    size=64, alpha=0.4, style_weights="2,1",
                                    preserve_color="true", style_scale="1.5",
                                    visibility="unlisted", seed=7).json()["id"])
    assert first["state"] == "succeeded", first["error"]
    page = client.get(f"/?from={first['id']}").text
    assert f'name="content_from" value="{first["id"]}"' in page
    assert html.escape(first["links"]["content"]) in page
    assert page.count('name="style_id"') == 2 and 'value="2"' in page   # the first weight
    assert re.search(r'<option value="microast"[^>]*selected', page)
    assert re.search(r'<option value="64"\s*selected', page)
    assert 'name="alpha" id="alpha" min="0" max="1" step="0.05" value="0.4"' in page
    assert re.search(r'name="preserve_color" value="true" checked', page)
    assert re.search(r'value="unlisted" checked', page) and 'value="7"' in page
    assert 'value="1.5"' in page                                         # the brush size

    ids = re.findall(r'name="style_id" value="(\d+)"', page)
    again = client.post("/api/jobs", data={"content_from": first["id"], "style_id": ids,
                                           "engine": "microast", "size": "64"})
    assert again.status_code == 201, again.text
    second = wait_for(client, again.json()["id"])
    assert second["state"] == "succeeded", second["error"]
    assert client.get(second["links"]["content"]).content == \
        client.get(first["links"]["content"]).content
    assert second["links"]["content"] != first["links"]["content"]       # its own copy
    assert len(second["links"]["styles"]) == 2

    stranger = TestClient(client.app)
    theirs = stranger.get(f"/?from={first['id']}").text
    assert "content_from" not in theirs and "Only the person who made that job" in theirs
    refused = stranger.post("/api/jobs", files=image_files()[1:],
                            data={"content_from": first["id"], "engine": "microast"})
    assert refused.status_code == 403 and "only the person" in refused.json()["detail"]
    # the owner's own unlisted styles, reused by the owner, never entered the library
    picked = stranger.post("/api/jobs", files=image_files(), data={"style_id": ids[:1],
                                                                   "engine": "microast"})
    assert picked.status_code == 404 and "no style" in picked.json()["detail"]


def test_from_a_cancelled_job_keeps_its_settings(paused_client: TestClient) -> None:
    job = queued(paused_client, engine="gatys-lite", size="128", iterations="40",
                 preset="balanced")
    assert paused_client.post(f"/api/jobs/{job['id']}/cancel").status_code == 200
    page = paused_client.get(f"/?from={job['id']}").text
    assert re.search(r'name="preset" value="balanced"[^>]*checked', page)
    assert re.search(r'<option value="128"\s*selected', page) and 'value="40"' in page
    # what the quality choice itself gives stays blank, so another choice can change it
    assert not re.search(r'<option value="gatys-lite"[^>]*selected', page)
    assert f'name="content_from" value="{job["id"]}"' in page


def test_the_result_page_says_when_the_photo_was_smaller_than_the_size(
        client: TestClient) -> None:
    job = wait_for(client, submit(client, size=256).json()["id"])   # a 96x64 photo
    assert job["state"] == "succeeded", job["error"]
    assert (job["width"], job["height"]) == (96, 64)                # never enlarged
    page = client.get(f"/r/{job['id']}").text
    assert "<dt>Size limit</dt><dd>256 px <small>(the photo was smaller)</small>" in page


@pytest.mark.parametrize("network", ["googlenet", "vgg19"])
def test_a_dream_network_that_is_not_installed_is_409(paused_client: TestClient,
                                                      network: str) -> None:
    """docs/api.md: 409 for what is not installed here (only the bundled network is)."""
    response = paused_client.post("/api/jobs", files=image_files(), data={
        "mode": "dream", "size": "64", "network": network})
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert "not installed on this server" in detail and "admin" in detail
    assert ".pth" not in detail and "SHA-256" not in detail        # plain words
    assert job_count(paused_client) == 0 and stored_files(paused_client) == set()
    page = paused_client.post("/create", files=image_files(), data={
        "mode": "dream", "size": "64", "network": network})
    assert page.status_code == 409 and "not installed on this server" in page.text
    assert queued(paused_client, mode="dream", size="64", network="pruned-vgg19")


def test_the_depths_say_what_they_grow_on_the_network_that_dreams(make_settings) -> None:  # type: ignore[no-untyped-def]
    """"Objects: animals, buildings" was promised on the bundled network, which grows eyes."""
    from dataclasses import replace

    from app.engine.weights.store import WeightStore, file_sha256
    from tests.support.checkpoints import write_googlenet_checkpoint

    settings = make_settings(run_worker=False)
    with TestClient(create_app(settings)) as bundled:
        page = bundled.get("/").text
        assert 'data-network="pruned-vgg19"' in page and "eyes and rings of eyes" in page
        assert "animals, buildings" not in page and "buildings" not in page
        job = queued(bundled, mode="dream", size="64")
        assert job["options"]["network"] == "pruned-vgg19"       # what auto dreams with
        result = bundled.get(f"/jobs/{job['id']}")
    files = write_googlenet_checkpoint(settings.weights_cache_dir)
    store = WeightStore.from_settings(settings)
    store = replace(store, pins=tuple(replace(f, sha256=file_sha256(files[f.name]))
                                      if f.name in files else f for f in store.pins))
    with TestClient(create_app(settings, store)) as client:
        page = client.get("/").text
        assert 'data-network="googlenet"' in page and "whole animals and buildings" in page
        assert queued(client, mode="dream", size="64")["options"]["network"] == "googlenet"
    assert result.status_code == 200


def test_more_octaves_than_the_photo_has_room_for_are_refused(paused_client: TestClient) -> None:
    """The engine drops octaves under 32 px: asked 2 of a 64x40 picture, it ran 1."""
    response = submit(paused_client, image_files(), mode="dream", size="64", octaves="2")
    assert response.status_code == 422
    assert ("the photo makes 64x40 at 64 px, which has room for 1 octave (each 1.4 times "
            "smaller, none under 32 px), not 2: choose at most 1") in response.json()["detail"]
    assert job_count(paused_client) == 0
    assert queued(paused_client, image_files(), mode="dream", size="64", octaves="1")


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_a_quality_s_octaves_become_what_fits_and_the_result_says_so(client: TestClient) -> None:
    """Best asks 5 octaves; a 120x90 photo has room for 4, which run and are shown."""
    job = queued(client, image_files(png_bytes((120, 90))), mode="dream", preset="best")
    assert (job["options"]["octaves"], job["options"]["octaves_asked"]) == (4, 5)
    done = wait_for(client, job["id"])
    assert done["state"] == "succeeded", done["error"]
    page = client.get(f"/r/{job['id']}").text
    assert ('<dd id="octaves-used">4 <small>(the quality asks for 5; the photo had room for '
            '4)</small></dd>') in page
    assert "<dt>Network</dt><dd>The small picture network that comes with dreamgen</dd>" in page


def test_the_api_document_shows_the_one_create_form(paused_client: TestClient) -> None:
    """One form model: /docs and code generators see every field, as multipart, each with
    the same help text the command line shows."""
    from app.engine.options import option_help

    operation = paused_client.get("/openapi.json").json()["paths"]["/api/jobs"]["post"]
    body = operation["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    name = body["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = paused_client.get("/openapi.json").json()["components"]["schemas"][name][
        "properties"]
    assert {"content", "style", "style_id", "preset", "engine", "alpha", "size", "title",
            "show_original", "visibility", "share_styles"} <= set(fields)
    assert fields["alpha"]["description"] == option_help("alpha")
