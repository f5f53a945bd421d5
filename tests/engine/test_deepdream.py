"""Deep Dream (app/engine/deepdream*.py) on the bundled 16x-pruned VGG-19 and real photos.

Done-criterion, at default settings, 256 px, on astronaut, chelsea, coffee and rocket: the
dream adds fine structure — the mean squared Laplacian of the luma (4-neighbour kernel,
reflect padding) is at least 1.5x the photo's (measured 1.75x astronaut, 4.45x chelsea,
2.02x coffee, 3.87x rocket) — while the photo stays recognisable — Pearson correlation of
Sobel edge magnitudes with the photo at least 0.15 (measured 0.82, 0.50, 0.68, 0.52). The
pictures go to tests/artifacts/deepdream/ (photo | dream).

Also: a seed gives the same picture bit for bit and another seed another picture; cancelling
stops within one step; progress after every step with previews; a guide pulls the dream
towards it (Gram distance to the guide shrinks); octaves grow coarse structure; the jitter is
undone; tiled gradients equal the whole image's and a tiled dream has no seams; bad options
are refused in plain words.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from app.engine.methods.deepdream import ascent
from app.engine.methods.deepdream.dream import dream_image, load_dreamer
from app.engine.methods.deepdream.networks import PRUNED_VGG19
from app.engine.errors import Cancelled, StyleTransferError
from app.engine.images import pil_to_tensor, resize_to_fit
from app.engine.options import OptionsError, StyleOptions, parse_options
from app.engine.networks.pruned_vgg import load_pruned_encoders
from app.engine.quality import edge_correlation, gram_distance, luminance
from app.engine.types import Progress
from app.engine.weights.store import bundled_dir

from .conftest import media

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "deepdream"
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
QUALITY_SIDE = 256
MIN_LAPLACIAN_RATIO = 1.5
MIN_EDGE_CORRELATION = 0.15


@pytest.fixture(scope="module")
def weights() -> dict[str, Path]:
    """Only the bundled pruned VGG-19: what every installation has."""
    return {PRUNED_VGG19.weight: bundled_dir() / PRUNED_VGG19.weight}


def laplacian_energy(image: torch.Tensor) -> float:
    """Mean squared 4-neighbour Laplacian of the luma (reflect padding): fine structure."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    gray = F.pad(luminance(image), (1, 1, 1, 1), mode="reflect")
    return float(F.conv2d(gray, kernel).square().mean())


def save_strip(path: Path, *images: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    strip = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)))
    left = 0
    for image in images:
        strip.paste(image, (left, 0))
        left += image.width
    strip.save(path)


def small(**values: object) -> StyleOptions:
    """Cheap options for the behaviour tests: 96 px, 2 octaves, 4 steps each."""
    return StyleOptions(**{"max_side": 96, "octaves": 2, "dream_iterations": 4, **values})


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
@pytest.mark.parametrize("name", PHOTOS)
def test_default_dream_adds_fine_structure_and_keeps_the_photo(name: str, weights) -> None:
    photo = media(name, QUALITY_SIDE)
    dream = dream_image(photo, [], StyleOptions(max_side=QUALITY_SIDE), weights)
    before, after = pil_to_tensor(photo.resize(dream.size)), pil_to_tensor(dream)
    measures = {"laplacian_ratio": laplacian_energy(after) / laplacian_energy(before),
                "edge_correlation": edge_correlation(before, after)}
    stem = name.rsplit(".", 1)[0]
    save_strip(ARTIFACTS / f"{stem}.png", photo.resize(dream.size), dream)
    (ARTIFACTS / f"{stem}.json").write_text(json.dumps(measures, indent=2))
    assert measures["laplacian_ratio"] >= MIN_LAPLACIAN_RATIO, measures
    assert measures["edge_correlation"] >= MIN_EDGE_CORRELATION, measures


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_a_seed_gives_the_same_picture_and_another_seed_another(weights) -> None:
    photo = media("chelsea.png", 96)
    first = np.asarray(dream_image(photo, [], small(seed=7), weights))
    again = np.asarray(dream_image(photo, [], small(seed=7), weights))
    other = np.asarray(dream_image(photo, [], small(seed=8), weights))
    assert np.array_equal(first, again)
    assert np.abs(first.astype(float) - other).mean() > 1.0      # grey levels


class CancelAfter:
    """A cancel token that is set once ``reports`` progress reports have arrived."""

    def __init__(self, reports: int) -> None:
        self.reports, self.seen, self.event = reports, 0, threading.Event()

    def on_progress(self, progress: Progress) -> None:
        self.seen += 1
        if self.seen >= self.reports:
            self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()


def test_cancel_stops_within_one_step(weights) -> None:
    photo = media("coffee.png", 96)
    token = CancelAfter(3)
    with pytest.raises(Cancelled):
        dream_image(photo, [], small(), weights, token.on_progress, token)
    assert token.seen == 3                       # the step after the third never reported
    already = threading.Event()
    already.set()
    with pytest.raises(Cancelled):
        dream_image(photo, [], small(), weights, cancel=already)


def test_progress_after_every_step_with_previews(weights) -> None:
    photo = media("rocket.jpg", 96)
    reports: list[Progress] = []
    result = dream_image(photo, [], small(octaves=3, preview_every=3), weights, reports.append)
    assert len(reports) == 3 * 4
    assert [r.fraction for r in reports] == pytest.approx([i / 12 for i in range(1, 13)])
    assert reports[0].message == "octave 1 of 3 · step 1 of 4"
    assert reports[-1].message == "octave 3 of 3 · step 4 of 4"
    with_preview = [i + 1 for i, r in enumerate(reports) if r.preview is not None]
    assert with_preview == [3, 4, 6, 8, 9, 12]   # every 3rd step and each octave's last
    assert all(r.preview.size == result.size for r in reports if r.preview is not None)
    assert np.array_equal(np.asarray(reports[-1].preview), np.asarray(result))


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
@pytest.mark.parametrize("depth", ["patterns", "objects"])
def test_a_guide_pulls_the_dream_towards_its_textures(depth: str, weights) -> None:
    """Gram distance to the guide at the layer that dreams (where the guide acts), 160 px:
    measured patterns (relu3_3) 0.65 -> 0.40 (Hubble) and 0.88 -> 0.73 (brick); objects
    (relu5_1) 0.99 -> 0.64 and 0.99 -> 0.77."""
    photo = media("astronaut.png", 160)
    encoder = load_pruned_encoders("cpu", weights[PRUNED_VGG19.weight])
    options = StyleOptions(max_side=160, depth=depth)
    taps = PRUNED_VGG19.taps(depth)
    plain = pil_to_tensor(dream_image(photo, [], options, weights))
    for guide_name in ("hubble_deep_field.jpg", "brick.png"):
        guide = media(guide_name, 160)
        guided = dream_image(photo, [guide], options, weights)
        save_strip(ARTIFACTS / f"guided_{depth}_{guide_name.split('.')[0]}.png", photo, guide,
                   guided)
        target = pil_to_tensor(guide)
        before = gram_distance(plain, target, encoder, taps)
        after = gram_distance(pil_to_tensor(guided), target, encoder, taps)
        assert after < before - 0.1, (guide_name, before, after)


def test_octave_sizes_shrink_by_the_scale_and_stop_above_the_network_minimum() -> None:
    sizes = ascent.octave_sizes(384, 512, 4, 1.4, 32)
    assert sizes[-1] == (384, 512) and len(sizes) == 4
    assert [round(512 / w, 2) for _, w in sizes] == [2.74, 1.96, 1.4, 1.0]
    assert ascent.octave_sizes(64, 96, 4, 1.4, 32) == [(33, 49), (46, 69), (64, 96)]
    assert ascent.octave_sizes(40, 40, 8, 2.0, 32) == [(40, 40)]


def test_octaves_grow_coarse_structure(weights) -> None:
    """More octaves, same steps at full size: the dream's added detail has more energy at
    coarse scales (its 8x8-block averages), as the method intends."""
    photo = media("coffee.png", 128)
    base = pil_to_tensor(resize_to_fit(photo, 128, 8))

    def coarse_detail(octaves: int) -> float:
        dream = dream_image(photo, [], small(max_side=128, octaves=octaves), weights)
        return float(F.avg_pool2d(pil_to_tensor(dream) - base, 8).abs().mean())

    assert coarse_detail(4) > 1.3 * coarse_detail(1)


def test_the_jitter_is_undone_so_the_dream_stays_in_register(weights) -> None:
    photo = media("astronaut.png", 128)
    before = pil_to_tensor(photo)
    after = pil_to_tensor(dream_image(photo, [], small(max_side=128), weights))

    def misfit(dy: int, dx: int) -> float:
        return float((torch.roll(after, (dy, dx), (-2, -1)) - before)[..., 8:-8, 8:-8]
                     .abs().mean())

    assert all(misfit(0, 0) < misfit(dy, dx) for dy, dx in [(0, 2), (2, 0), (-3, 3), (0, -1)])
    generator = torch.Generator().manual_seed(0)
    shifts = [ascent.random_shift(before, generator) for _ in range(50)]
    assert all(abs(dy) <= ascent.JITTER and abs(dx) <= ascent.JITTER for dy, dx in shifts)
    assert len(set(shifts)) > 40                                 # a new shift every step


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
@pytest.mark.parametrize(("depth", "tolerance"), [("patterns", 1e-4), ("objects", 0.02)])
def test_tiled_gradient_is_the_whole_image_gradient(depth: str, tolerance: float,
                                                    weights) -> None:
    dreamer, _, _ = load_dreamer(StyleOptions(depth=depth), weights)
    image = pil_to_tensor(media("astronaut.png", 256))
    whole = ascent.tiled_gradient(dreamer.net, image, dreamer.taps, None, 1024, 16,
                                  torch.Generator().manual_seed(0))
    for seed in range(3):          # three random grid origins
        tiled = ascent.tiled_gradient(dreamer.net, image, dreamer.taps, None, 64, 16,
                                      torch.Generator().manual_seed(seed))
        error = float((tiled - whole).abs().mean() / whole.abs().mean())
        assert error < tolerance, (seed, error)   # measured 2e-6 and 0.007


def line_energy(image: torch.Tensor, lines: list[int]) -> float:
    """Mean squared step between neighbouring pixels across the given rows and columns."""
    steps = [(image[..., r, :] - image[..., r - 1, :]).square().flatten() for r in lines]
    steps += [(image[..., c] - image[..., c - 1]).square().flatten() for c in lines]
    return torch.cat(steps).mean().item()


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_a_tiled_dream_has_no_seams(weights, monkeypatch: pytest.MonkeyPatch) -> None:
    """192 px, 64 px tiles: across the lines where a fixed grid would cut, the tiled dream's
    neighbour steps are those of the untiled dream (measured 0.96x). Stitching tiles dreamed
    alone — no margin, a fixed grid, no jitter — leaves quiet tile borders (0.73x), so the
    measure catches a seam."""
    photo = media("astronaut.png", 192)
    options = dict(max_side=192, octaves=1, dream_iterations=20)
    lines = [64, 128]

    def seam_ratio() -> float:
        whole = pil_to_tensor(dream_image(photo, [], StyleOptions(**options), weights))
        tiled = pil_to_tensor(dream_image(photo, [], StyleOptions(tile_side=64, **options),
                                          weights))
        return line_energy(tiled, lines) / line_energy(whole, lines)

    assert abs(seam_ratio() - 1) < 0.15
    fixed_grid = ascent.axis_tiles
    monkeypatch.setattr(ascent, "axis_tiles", lambda length, tile, _: fixed_grid(length, tile, 0))
    monkeypatch.setattr(ascent, "TILE_MARGIN", 0)
    monkeypatch.setattr(ascent, "JITTER", 0)
    assert abs(seam_ratio() - 1) > 0.2


@pytest.mark.parametrize(("values", "expected"), [
    ({"octaves": 0}, "octaves must be at least 1, not 0"),
    ({"octaves": 9}, "octaves must be at most 8, not 9"),
    ({"octave_scale": 1.0}, "octave scale must be at least 1.1, not 1"),
    ({"octave_scale": "nan"}, "octave scale must be a finite number, not 'nan'"),
    ({"strength": 0}, "dream strength must be more than 0, not 0"),
    ({"strength": 11}, "dream strength must be at most 10, not 11"),
    ({"dream_iterations": 0}, "steps per octave must be at least 1, not 0"),
    ({"depth": "dreamy"}, "dream depth must be one of 'textures', 'patterns', 'shapes' or "
                          "'objects', not 'dreamy'"),
    ({"network": "resnet"}, "network must be one of 'auto', 'pruned-vgg19', 'vgg19' or "
                            "'googlenet', not 'resnet'"),
])
def test_bad_options_are_refused_in_plain_words(values: dict, expected: str) -> None:
    with pytest.raises(OptionsError) as caught:
        parse_options({"engine": "deepdream", **values})
    assert str(caught.value) == expected


def test_impossible_inputs_are_refused(weights) -> None:
    photo = media("chelsea.png", 96)
    with pytest.raises(StyleTransferError, match="at most one guide image, not 2"):
        dream_image(photo, [photo, photo], small(), weights)
    with pytest.raises(StyleTransferError, match="needs at least 32 px per side"):
        dream_image(photo, [], small(max_side=24), weights)


def test_dream_options_are_kept_with_a_job() -> None:
    stored = parse_options({"engine": "deepdream", "depth": "shapes", "octaves": 3,
                            "strength": 1.5, "network": "pruned-vgg19"}).stored()
    assert {k: stored[k] for k in ("depth", "octaves", "strength", "network")} == {
        "depth": "shapes", "octaves": 3, "strength": 1.5, "network": "pruned-vgg19"}
    assert parse_options(stored) == parse_options({"engine": "deepdream", "depth": "shapes",
                                                   "octaves": 3, "strength": 1.5,
                                                   "network": "pruned-vgg19"})
