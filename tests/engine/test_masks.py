"""Masks (app/engine/masks.py, app/engine/masked.py and each engine's masked pass) on real
photos, for every engine: MicroAST and the pruned VGG-19 (gatys-lite, Deep Dream) with the
real weights in ../shared, AdaIN with checkpoints generated in its exact format.

Done-criterion: with one style, the part left unpainted stays the photo within
:data:`KEPT_LEVELS` grey levels (beyond the feather), and the painted part differs from the
photo by at least :data:`CHANGED_LEVELS` on average. The pictures go to
tests/artifacts/masks/ (photo | mask | result) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from app.engine.errors import StyleTransferError
from app.engine.features import adain_with_stats, calc_mean_std, masked_adain, weighted_mean_std
from app.engine.images import resize_to_fit
from app.engine.masked import stylize_masked
from app.engine.masks import (
    feather_radius,
    fit_mask,
    is_blank,
    keep_photo_outside,
    mask_tensor,
    read_mask,
)
from app.engine.options import StyleOptions
from app.engine.registry import get_engine
from app.engine.weights.store import bundled_dir
from tests.support.checkpoints import write_adain_checkpoints
from tests.support.shared import SHARED

from .conftest import media

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "masks"
SIDE = 128
KEPT_LEVELS = 3.0        # the unpainted part: at most this far from the photo (mean, 0-255)
CHANGED_LEVELS = 12.0    # the painted part: at least this far from it (mean, 0-255)
ENGINE_OPTIONS = {
    "microast": {},
    "adain": {},
    "gatys-lite": {"iterations": 30, "preview_every": 0},
    "deepdream": {"octaves": 2, "dream_iterations": 6, "strength": 3.0, "preview_every": 0},
}


def half_mask(size: tuple[int, int]) -> Image.Image:
    """White (painted) on the left half, black on the right."""
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle((0, 0, size[0] // 2 - 1, size[1]), fill=255)
    return mask


def engine_weights(name: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    spec = get_engine(name)
    if name == "adain":
        return write_adain_checkpoints(tmp_path_factory.mktemp("adain"), seed=0)
    folders = (SHARED / "weights", bundled_dir())
    return {w: next(f / w for f in folders if (f / w).exists()) for w in spec.weights}


def grey_levels(a: Image.Image, b: Image.Image) -> np.ndarray:
    return np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean(axis=2)


@pytest.mark.slow     # gatys-lite and Deep Dream take a few seconds each on a 2-core CPU
@pytest.mark.parametrize("engine", list(ENGINE_OPTIONS))
def test_one_style_changes_only_the_painted_part(engine: str,
                                                 tmp_path_factory: pytest.TempPathFactory
                                                 ) -> None:
    spec = get_engine(engine)
    photo = media("astronaut.png", SIDE)
    styles = [] if spec.mode == "dream" else [media("hubble_deep_field.jpg", SIDE)]
    options = StyleOptions(engine=engine, max_side=SIDE, **ENGINE_OPTIONS[engine])
    # the mask at another size than the photo: it is scaled
    mask = half_mask((photo.width * 3, photo.height * 3))
    result = stylize_masked(spec, photo, styles, options, engine_weights(engine,
                                                                         tmp_path_factory), mask)
    resized = resize_to_fit(photo, SIDE, 8)
    assert result.size == resized.size
    diff = grey_levels(result, resized)
    margin = 3 * feather_radius(result.size)
    half = result.width // 2
    kept, changed = diff[:, half + margin:].mean(), diff[:, :half - margin].mean()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    strip = Image.new("RGB", (3 * result.width, result.height))
    for i, image in enumerate((resized, fit_mask(mask, result.size).convert("RGB"), result)):
        strip.paste(image, (i * result.width, 0))
    strip.save(ARTIFACTS / f"{engine}.png")
    assert kept <= KEPT_LEVELS, f"{engine}: the unpainted half moved by {kept:.2f} levels"
    assert changed >= CHANGED_LEVELS, f"{engine}: the painted half moved only {changed:.2f}"


@pytest.mark.parametrize("engine", ["microast", "adain"])
def test_two_styles_each_take_their_region(engine: str,
                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """A second style goes on the rest, mixed in feature space: each half is far closer to
    its own single-style picture than to the other style's."""
    spec = get_engine(engine)
    photo = media("astronaut.png", SIDE)
    first, second = media("hubble_deep_field.jpg", SIDE), media("brick.png", SIDE)
    weights = engine_weights(engine, tmp_path_factory)
    options = StyleOptions(engine=engine, max_side=SIDE)
    everywhere = Image.new("L", (8, 8), 255)
    mixed = stylize_masked(spec, photo, [first, second], options, weights,
                           half_mask(photo.size))
    only = [stylize_masked(spec, photo, [s], options, weights, everywhere)
            for s in (first, second)]
    half, margin = mixed.width // 2, 16
    left = [grey_levels(mixed, o)[:, :half - margin].mean() for o in only]
    right = [grey_levels(mixed, o)[:, half + margin:].mean() for o in only]
    assert left[0] < 0.6 * left[1], left
    assert right[1] < 0.6 * right[0], right


def test_masked_adain_on_a_full_region_is_adain() -> None:
    torch.manual_seed(0)
    feat, style = torch.randn(1, 8, 16, 16) * 3 + 1, torch.randn(1, 8, 12, 12) * 2 - 1
    stats = calc_mean_std(style)
    full = masked_adain(feat, torch.ones(1, 1, 16, 16), stats, None)
    plain = adain_with_stats(feat, *stats)
    assert torch.allclose(full, plain, atol=0.05)   # population vs unbiased variance only


def test_weighted_statistics_are_those_of_the_region() -> None:
    torch.manual_seed(0)
    feat = torch.randn(1, 4, 8, 8)
    feat[..., :, :4] += 5.0
    region = torch.zeros(1, 1, 8, 8)
    region[..., :, :4] = 1.0
    mean, std = weighted_mean_std(feat, region, eps=0.0)
    inside = feat[..., :, :4].flatten(2)
    assert torch.allclose(mean.flatten(), inside.mean(2).flatten(), atol=1e-5)
    assert torch.allclose(std.flatten(), inside.std(2, unbiased=False).flatten(), atol=1e-5)


def test_blank_masks_mean_no_mask() -> None:
    assert is_blank(Image.new("L", (32, 32), 0)) and is_blank(Image.new("L", (32, 32), 255))
    assert not is_blank(half_mask((32, 32)))
    transparent = Image.new("RGBA", (32, 32), (255, 255, 255, 0))
    assert is_blank(transparent)            # a canvas with nothing painted on it


def test_a_mask_is_read_scaled_and_feathered(tmp_path: Path) -> None:
    path = tmp_path / "mask.png"
    half_mask((300, 200)).save(path)
    mask = read_mask(path)
    assert mask is not None and mask.mode == "L"
    fitted = np.asarray(fit_mask(mask, (120, 80)), np.float32)
    assert fitted.shape == (80, 120)
    assert fitted[:, :40].min() > 250 and fitted[:, 80:].max() < 5      # far from the edge
    edge = fitted[40, 55:65]
    assert np.all(np.diff(edge) <= 0) and 20 < edge.mean() < 235          # a soft ramp
    assert read_mask(Image_bytes(Image.new("L", (10, 10), 0))) is None


def Image_bytes(image: Image.Image) -> bytes:   # noqa: N802 - reads like the type
    import io

    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_the_photo_is_kept_outside_the_mask() -> None:
    photo, result = Image.new("RGB", (16, 16), (10, 20, 30)), Image.new("RGB", (16, 16), "white")
    out = np.asarray(keep_photo_outside(result, photo, half_mask((16, 16))))
    assert (out[:, :8] == 255).all() and (out[:, 8:] == (10, 20, 30)).all()
    assert mask_tensor(half_mask((16, 16))).shape == (1, 1, 16, 16)


def test_too_many_styles_under_a_mask_are_refused(tmp_path_factory) -> None:
    photo = media("astronaut.png", 64)
    with pytest.raises(StyleTransferError, match="one style for the painted part"):
        stylize_masked(get_engine("microast"), photo, [photo] * 3, StyleOptions(max_side=64),
                       engine_weights("microast", tmp_path_factory), half_mask((64, 64)))
