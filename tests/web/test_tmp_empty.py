from tests.web.conftest import *  # noqa
from tests.web.conftest import submit, wait_for
from tests.conftest import png_bytes

def test_empty_style_part_with_reuse(client):
    first = wait_for(client, submit(client).json()["id"])
    r = client.post("/create", files=[("content", ("c.png", png_bytes(seed=5), "image/png")), ("style", ("", b"", "application/octet-stream"))],
                    data={"engine": "microast", "size": "64", "style_from": first["id"]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    r = client.post("/create", files=[("content", ("c.png", png_bytes(seed=5), "image/png")), ("style", ("", b"", "application/octet-stream"))],
                    data={"engine": "microast", "size": "64"}, follow_redirects=False)
    assert r.status_code == 422 and "at least one style" in r.text, r.text[:3000]
