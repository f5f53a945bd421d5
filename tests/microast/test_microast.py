"""MicroAST on its real weights: loading, shapes, determinism, batching, options."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from app.engine.methods.microast import network as microast
from app.engine.options import StyleOptions, parse_options
from app.engine.errors import StyleTransferError, WeightsMissingError
from app.engine.methods.microast.stylizer import MicroASTStylizer
from app.engine.quality import color_histogram_distance, gram_distance

from .conftest import small_tensor


def make(styles, weights, **options) -> MicroASTStylizer:
    return MicroASTStylizer(styles, parse_options(options, device="cpu"), weights)


def by_part(weights: dict[str, Path]) -> dict[str, Path]:
    return microast.resolve_weight_paths(weights)


def test_every_checkpoint_key_is_used(microast_weights):
    nets = microast.load_networks(torch.device("cpu"), by_part(microast_weights))
    for part, path in by_part(microast_weights).items():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        built = getattr(nets, part).state_dict()
        assert set(saved) == set(built), part
        for key, value in saved.items():
            assert torch.equal(built[key], value), f"{part}.{key} differs after loading"


def test_checkpoint_missing_a_key_is_refused(microast_weights, tmp_path):
    decoder = microast.WEIGHT_NAMES["decoder"]
    state = torch.load(microast_weights[decoder], map_location="cpu", weights_only=True)
    state.pop("dec3.10.conv_layer.bias")
    broken = tmp_path / "decoder.pth.tar"
    torch.save(state, broken)
    with pytest.raises(WeightsMissingError, match="expected layout"):
        microast.load_networks(torch.device("cpu"), {**by_part(microast_weights),
                                                     "decoder": broken})


def test_missing_file_names_the_file(microast_weights, tmp_path, styles):
    with pytest.raises(WeightsMissingError, match="nothing.pth"):
        make([styles["ihc"]], {**microast_weights,
                               microast.WEIGHT_NAMES["modulator"]: tmp_path / "nothing.pth"})


def test_networks_are_cached_per_device_and_paths(microast_weights):
    first = microast.load_networks(torch.device("cpu"), by_part(microast_weights))
    assert microast.load_networks(torch.device("cpu"), by_part(dict(microast_weights))) is first


def test_the_dispatcher_runs_microast_on_the_bundled_weights(tmp_path, styles, contents):
    from app.engine.dispatch import make_frame_stylizer
    from app.engine.weights.store import WeightStore, bundled_dir

    store = WeightStore(cache_dir=tmp_path / "empty-cache")
    paths = store.engine_paths("microast")
    assert paths[microast.WEIGHT_NAMES["decoder"]] == \
        bundled_dir() / microast.WEIGHT_NAMES["decoder"]
    stylizer = make_frame_stylizer([styles["ihc"]],
                                   StyleOptions(engine="microast", device="cpu"), store)
    assert isinstance(stylizer, MicroASTStylizer)
    out = stylizer.stylize_frames(contents["astronaut"])
    assert out.shape == contents["astronaut"].shape


@pytest.mark.parametrize("size", [(128, 96), (72, 100), (50, 66)])
def test_output_shape_and_range(microast_weights, styles, size):
    frames = torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(0))
    out = make([styles["hubble"]], microast_weights).stylize_frames(frames)
    assert out.shape == frames.shape
    assert out.dtype == torch.float32 and out.device.type == "cpu"
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert float(out.std()) > 0.01, "a flat image is not a stylisation"


def test_deterministic(microast_weights, styles, contents):
    a = make([styles["ihc"]], microast_weights).stylize_frames(contents["chelsea"])
    b = make([styles["ihc"]], microast_weights).stylize_frames(contents["chelsea"])
    assert torch.equal(a, b)


@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_batch_equals_one_by_one(microast_weights, styles, contents, alpha):
    stylizer = make([styles["ihc"]], microast_weights, alpha=alpha)
    frames = torch.cat([contents["astronaut"], contents["astronaut"].flip(-1),
                        contents["astronaut"].roll(17, dims=-2)])
    batch = stylizer.stylize_frames(frames)
    singles = torch.cat([stylizer.stylize_frames(f[None]) for f in frames])
    torch.testing.assert_close(batch, singles, atol=1e-5, rtol=0)


def test_alpha_zero_reconstructs_and_alpha_moves_towards_style(
        microast_weights, styles, contents, pruned_vgg):
    """alpha mixes the style's code with the content's own: at 0 the decoder reconstructs
    the photo; with growing alpha the result moves monotonically towards the style."""
    content = contents["astronaut"]
    style = small_tensor(styles["hubble"])
    outs = {a: make([styles["hubble"]], microast_weights, alpha=a).stylize_frames(content)
            for a in (0.0, 0.5, 1.0)}
    assert float((outs[0.0] - content).abs().mean()) < 0.1          # measured 0.06-0.07
    assert float((outs[1.0] - content).abs().mean()) > 0.25
    hist = [color_histogram_distance(outs[a], style) for a in (0.0, 0.5, 1.0)]
    gram = [gram_distance(outs[a], style, pruned_vgg) for a in (0.0, 0.5, 1.0)]
    assert hist[0] > hist[1] > hist[2], hist
    assert gram[0] > gram[1] > gram[2], gram


def test_style_weights_one_zero_equal_the_single_style(microast_weights, styles, contents):
    single = make([styles["ihc"]], microast_weights).stylize_frames(contents["coffee"])
    mixed = make([styles["ihc"], styles["hubble"]], microast_weights,
                 style_weights=(1.0, 0.0)).stylize_frames(contents["coffee"])
    torch.testing.assert_close(mixed, single, atol=1e-6, rtol=0)


def test_style_mix_lies_between_the_styles(microast_weights, styles, contents):
    s_a, s_b = styles["ihc"], styles["hubble"]
    content = contents["rocket"]
    pure_a = make([s_a], microast_weights).stylize_frames(content)
    pure_b = make([s_b], microast_weights).stylize_frames(content)
    half = make([s_a, s_b], microast_weights, style_weights=(2.0, 2.0)).stylize_frames(content)
    mean_a, mean_b, mean_half = (t.mean().item() for t in (pure_a, pure_b, half))
    assert min(mean_a, mean_b) < mean_half < max(mean_a, mean_b)
    assert (half - pure_a).abs().mean() > 0.02 and (half - pure_b).abs().mean() > 0.02


def test_mixed_codes_are_the_weighted_mean(microast_weights, styles):
    code = make([styles["ihc"], styles["hubble"]], microast_weights,
                style_weights=(1.0, 3.0)).style_code
    a = make([styles["ihc"]], microast_weights).style_code
    b = make([styles["hubble"]], microast_weights).style_code
    torch.testing.assert_close(code.std_deep, 0.25 * a.std_deep + 0.75 * b.std_deep)
    torch.testing.assert_close(code.w_shallow, 0.25 * a.w_shallow + 0.75 * b.w_shallow)


def test_preserve_color_keeps_the_content_chroma(microast_weights, styles, contents):
    content = contents["astronaut"]
    plain = make([styles["retina_crop"]], microast_weights).stylize_frames(content)
    kept = make([styles["retina_crop"]], microast_weights,
                preserve_color=True).stylize_frames(content)

    def chroma(x: torch.Tensor) -> torch.Tensor:
        y = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
        return torch.stack([x[:, 2] - y, x[:, 0] - y], dim=1)

    def luma(x: torch.Tensor) -> torch.Tensor:
        return 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]

    # clamping to [0, 1] is the only thing that may move the chroma
    assert float((chroma(kept) - chroma(content)).abs().mean()) < 0.02
    assert float((chroma(plain) - chroma(content)).abs().mean()) > 0.05
    assert float((luma(kept) - luma(plain)).abs().mean()) < 0.03


def test_fp16_matches_fp32(microast_weights, styles, contents):
    """What runs on CUDA is fp16; the activations peak near 200 (far from fp16's 65504), and
    an fp16 run (here on the CPU, 64 px style and content to keep it quick) stays within a few
    1/255 steps of fp32."""
    stylizer = make([styles["ihc"]], microast_weights, alpha=0.7)
    style = microast.prepare_style(styles["ihc"], side=64)
    with torch.inference_mode():
        stylizer.style_code = microast.encode_style(stylizer.nets, style)
    content = contents["chelsea"][..., 8:72, 32:96]     # 64 px: fp16 convs are slow on a CPU
    reference = stylizer.stylize_frames(content)
    half = copy.copy(stylizer)
    half.nets = microast.MicroASTNetworks(
        *(copy.deepcopy(getattr(stylizer.nets, p)).half() for p in microast.WEIGHT_NAMES))
    half.dtype = torch.float16
    try:
        with torch.inference_mode():
            half.style_code = microast.encode_style(half.nets, style.half())
        out = half.stylize_frames(content)
    except RuntimeError as exc:           # an old CPU build without fp16 convolutions
        pytest.skip(f"no fp16 convolution on this CPU: {exc}")
    assert float((out - reference).abs().mean()) < 0.005
    assert float((out - reference).abs().max()) < 0.08


@pytest.mark.parametrize("options, message", [
    ({"alpha": 1.5}, "style strength must be at most 1"),
    ({"style_weights": (1.0,)}, "one each"),
    ({"style_weights": (0.0, 0.0)}, "not all zero"),
    ({"style_weights": (1.0, -1.0)}, "zero or more"),
])
def test_bad_options_are_refused(microast_weights, styles, options, message):
    with pytest.raises(StyleTransferError, match=message):
        make([styles["ihc"], styles["hubble"]], microast_weights, **options)


def test_no_style_is_refused(microast_weights):
    with pytest.raises(StyleTransferError, match="at least one style"):
        make([], microast_weights)


def test_style_image_is_scaled_to_512(styles):
    assert max(microast.prepare_style(styles["ihc"]).shape[-2:]) == microast.STYLE_SIDE
    tiny = styles["ihc"].resize((40, 30))
    assert tuple(microast.prepare_style(tiny).shape[-2:]) == (384, 512)


def test_frames_of_the_wrong_shape_are_refused(microast_weights, styles):
    with pytest.raises(StyleTransferError, match="B, 3, H, W"):
        make([styles["ihc"]], microast_weights).stylize_frames(torch.rand(3, 32, 32))


def test_unknown_weight_part_is_refused(tmp_path: Path):
    with pytest.raises(StyleTransferError, match="unknown MicroAST weight"):
        microast.resolve_weight_paths({"vgg": tmp_path})
    with pytest.raises(StyleTransferError, match="expected"):
        microast.resolve_weight_paths({})
