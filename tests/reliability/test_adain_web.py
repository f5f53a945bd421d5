"""AdaIN through the web app, with seeded checkpoints the registry is told to trust (the real
loader and its SHA-256 verification still run)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable

from fastapi.testclient import TestClient
from PIL import Image

from app.settings import Settings
from app.web.main import create_app
from tests.reliability.conftest import trusting
from tests.support.images import png_bytes
from tests.web.conftest import image_files, submit, wait_for


def test_an_adain_job_runs_end_to_end(adain_weights: dict[str, Path],
                                      make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(weights_cache_dir=adain_weights["adain/decoder.pth"].parents[1])
    with TestClient(create_app(settings, trusting(settings, adain_weights))) as client:
        engines = {e["name"]: e["ready"] for e in client.get("/api/engines").json()}
        assert engines["adain"], engines
        created = submit(client, image_files(None, png_bytes(seed=6)), engine="adain",
                         size=64, alpha=0.9)
        assert created.status_code == 201, created.text
        assert created.json()["engine"] == "adain"
        done = wait_for(client, created.json()["id"])
        assert done["state"] == "succeeded", done["error"]
        result = Image.open(io.BytesIO(client.get(done["links"]["result"]).content))
        assert result.size == (done["width"], done["height"]) and max(result.size) == 64
        assert len(result.getcolors(maxcolors=1 << 16) or ()) > 50    # a picture, not a fill


def test_a_tampered_adain_checkpoint_is_refused(adain_weights: dict[str, Path],
                                                make_settings: Callable[..., Settings]) -> None:
    """The verification path is live: one changed byte and AdaIN is not ready any more."""
    settings = make_settings(run_worker=False,
                             weights_cache_dir=adain_weights["adain/decoder.pth"].parents[1])
    store = trusting(settings, adain_weights)
    decoder = adain_weights["adain/decoder.pth"]
    data = bytearray(decoder.read_bytes())
    data[-1] ^= 0xFF
    decoder.write_bytes(bytes(data))
    with TestClient(create_app(settings, store)) as client:
        engines = {e["name"]: e for e in client.get("/api/engines").json()}
        assert not engines["adain"]["ready"]
        refused = submit(client, engine="adain")
        assert refused.status_code == 409
        assert "not installed on this server" in refused.json()["detail"]
