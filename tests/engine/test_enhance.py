"""Enhance (app/engine/enlarge.py, app/jobs/derived_inputs.py): the same engine and settings
again at twice the size, as a job's engine child runs it.

Done-criterion: MicroAST's Enhance of a 512 px result is a 1024 px picture that, scaled back
to 512 px, matches the first closely (PSNR at least :data:`MIN_PSNR_DB`) and has more fine
detail than the first merely upscaled (high-frequency energy at least
:data:`MIN_DETAIL_RATIO` times). Figures: ``python -m bench.enhance``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.enlarge import enhanced_side, enlarge_to_fit, enlarged_size
from tests.support.enhancing import first_and_enhanced

MIN_PSNR_DB = 20.0
MIN_DETAIL_RATIO = 2.0


def test_the_new_side_doubles_up_to_the_limit() -> None:
    assert enhanced_side(512, 384, 4096) == 1024
    assert enhanced_side(3000, 2000, 4096) == 4096
    assert enhanced_side(4096, 100, 4096) is None
    assert enlarged_size(448, 304, 896) == (896, 608)


def test_a_photo_is_enlarged_to_the_new_size() -> None:
    from PIL import Image

    small = Image.new("RGB", (300, 200), "red")
    assert enlarge_to_fit(small, 1024).size == (1024, 680)


@pytest.mark.slow     # a 512 and a tiled 1024 px MicroAST run: ~15 s on a 2-core CPU
def test_microast_enhance_of_512_px_matches_it_with_more_detail(tmp_path: Path) -> None:
    figures = first_and_enhanced(tmp_path, "microast", 512)
    assert figures.first.size == (512, 512) and figures.enhanced.size == (1024, 1024)
    assert figures.psnr_db >= MIN_PSNR_DB, figures.psnr_db
    assert figures.detail >= MIN_DETAIL_RATIO * figures.upscaled_detail, \
        (figures.detail, figures.upscaled_detail)


@pytest.mark.slow
def test_painterly_enhance_starts_from_the_result(tmp_path: Path) -> None:
    figures = first_and_enhanced(tmp_path, "gatys-lite", 96, iterations=20,
                                 preview_every=0)
    assert figures.enhanced.size == (192, 192)
    assert figures.psnr_db >= MIN_PSNR_DB, figures.psnr_db
    assert figures.detail >= figures.upscaled_detail, (figures.detail,
                                                       figures.upscaled_detail)
