"""Johnson's network with conditional instance normalisation: shapes, the per-style
parameters (Dumoulin et al. Eq. 5), style mixes, and adding styles without touching the
existing ones."""

from __future__ import annotations

import torch

from app.engine.methods.trained.network import (
    NetworkShape,
    TransformerNet,
    add_styles,
    conv_parameters,
    expected_shapes,
    instance_stats,
    one_style,
)
from tests.support.fast_models import seeded_network


def test_the_output_is_an_image_of_the_input_size() -> None:
    net = seeded_network(width=8, blocks=2, styles=1)
    x = torch.rand(2, 3, 40, 64)
    with torch.no_grad():
        out = net(x, one_style(0, 1))
    assert out.shape == x.shape
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert float((out - x).abs().mean()) > 0.05          # it does change the picture


def test_the_layers_are_johnsons_at_the_chosen_width() -> None:
    shapes = expected_shapes(NetworkShape(width=32, blocks=5, styles=3))
    assert shapes["conv1.conv.weight"] == (32, 3, 9, 9)
    assert shapes["conv2.conv.weight"] == (64, 32, 3, 3)
    assert shapes["conv3.conv.weight"] == (128, 64, 3, 3)
    assert shapes["res.4.conv2.conv.weight"] == (128, 128, 3, 3)
    assert shapes["up2.conv.weight"] == (32, 64, 3, 3)
    assert shapes["out.conv.weight"] == (3, 32, 9, 9)
    assert shapes["norm1.gamma"] == (3, 32) and shapes["res.0.norm2.beta"] == (3, 128)
    assert "res.5.conv1.conv.weight" not in shapes
    net = TransformerNet(NetworkShape(width=32, blocks=5, styles=3))
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == shapes


def test_a_norm_layer_gives_each_style_its_own_statistics() -> None:
    net = seeded_network(width=8, blocks=1, styles=2)
    layer = net.norm1
    x = torch.randn(1, 8, 10, 12) * 3 + 1
    for style in (0, 1):
        out = layer(x, one_style(style, 2))
        mean, std = instance_stats(out)
        assert torch.allclose(mean.flatten(), layer.beta[style], atol=1e-4)
        assert torch.allclose(std.flatten(), layer.gamma[style].abs(), atol=1e-3)


def test_one_style_of_a_network_paints_as_a_network_of_that_style_alone() -> None:
    two = seeded_network(width=8, blocks=1, styles=2, seed=1)
    alone = TransformerNet(NetworkShape(8, 1, 1))
    state = {k: (v[1:2] if k.endswith((".gamma", ".beta")) else v)
             for k, v in two.state_dict().items()}
    alone.load_state_dict(state)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(two(x, one_style(1, 2)), alone(x, one_style(0, 1)), atol=1e-6)
        mixed = two(x, torch.tensor([0.5, 0.5]))
    assert not torch.allclose(mixed, two(x, one_style(0, 2)), atol=1e-3)
    assert not torch.allclose(mixed, two(x, one_style(1, 2)), atol=1e-3)


def test_adding_styles_keeps_the_old_ones_and_starts_the_new_from_their_mean() -> None:
    net = seeded_network(width=8, blocks=1, styles=2, seed=2)
    bigger = add_styles(net, 1)
    assert bigger.shape.styles == 3
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        for style in (0, 1):
            assert torch.equal(bigger(x, one_style(style, 3)), net(x, one_style(style, 2)))
    assert torch.allclose(bigger.norm1.gamma[2], net.norm1.gamma.mean(dim=0))
    ids = {id(p) for p in conv_parameters(bigger)}
    assert all(id(layer.gamma) not in ids for layer in bigger.norms())
