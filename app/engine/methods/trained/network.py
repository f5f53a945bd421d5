"""Johnson's image transformation network with conditional instance normalisation.

Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution" (ECCV 2016), Sec. 3.1 and the supplement: a 9x9 convolution, two stride-2
convolutions, residual blocks at a quarter of the resolution, two upsampling convolutions
(nearest-neighbour upsampling then a convolution, which avoids checkerboard artefacts) and a
9x9 convolution back to RGB; every convolution but the last is followed by instance
normalisation (Ulyanov et al. 2016) and a ReLU.

Dumoulin, Shlens & Kudlur, "A Learned Representation for Artistic Style" (ICLR 2017), Eq. 5:
conditional instance normalisation keeps one scale and shift per style and channel,

    z = gamma_s * (x - mu(x)) / sigma(x) + beta_s,

so one network holds several styles, a convex mix of the ``gamma_s``/``beta_s`` paints a mix
of the styles, and a new style is learnt by training only its own ``gamma``/``beta`` with the
convolutions frozen. Inputs and outputs are RGB in [0, 1] (a sigmoid ends the network, as in
Dumoulin et al.'s implementation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

DOWNSCALE = 4            # two stride-2 convolutions: input sides are padded to a multiple of 4
EPS = 1e-5


@dataclass(frozen=True)
class NetworkShape:
    """How big a network is: ``width`` channels after the first convolution (Johnson et al.:
    32; twice and four times that deeper down), ``blocks`` residual blocks (Johnson: 5),
    ``styles`` sets of normalisation parameters."""

    width: int = 32
    blocks: int = 5
    styles: int = 1

    def with_styles(self, styles: int) -> "NetworkShape":
        return NetworkShape(self.width, self.blocks, styles)


class ConditionalInstanceNorm(nn.Module):
    """Instance normalisation with one scale and shift per style (Dumoulin et al., Eq. 5)."""

    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(styles, channels))
        self.beta = nn.Parameter(torch.zeros(styles, channels))

    def forward(self, x: torch.Tensor, mix: torch.Tensor,
                stats: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """``x`` normalised per sample and channel, then scaled and shifted by the styles'
        parameters mixed by ``mix`` ((S,) for the whole batch, or (B, S) per sample).
        ``stats`` replaces the per-sample (mean, std) of ``x`` (tiles of a large image)."""
        mean, std = stats if stats is not None else instance_stats(x)
        gamma, beta = mix.to(self.gamma) @ self.gamma, mix.to(self.beta) @ self.beta
        shape = (-1, x.shape[1], 1, 1) if gamma.dim() == 2 else (1, x.shape[1], 1, 1)
        # gamma * (x - mean) / std + beta as one multiply-add over the feature map
        scale = gamma.view(shape) / std
        shift = beta.view(shape) - mean * scale
        return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))


def instance_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample, per-channel mean and standard deviation (biased variance + ``EPS``, as
    :func:`torch.nn.functional.instance_norm` takes them), each (B, C, 1, 1)."""
    var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
    return mean, (var + EPS).sqrt()


class Conv(nn.Module):
    """A convolution with reflection padding, optionally after 2x nearest upsampling."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1,
                 upsample: bool = False) -> None:
        super().__init__()
        self.pad, self.upsample = kernel // 2, upsample
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv(F.pad(x, (self.pad,) * 4, mode="reflect"))


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions, each normalised, with the input added back (Johnson et al.,
    supplement Fig. 1, without the ReLU after the sum)."""

    def __init__(self, channels: int, styles: int) -> None:
        super().__init__()
        self.conv1, self.norm1 = Conv(channels, channels, 3), ConditionalInstanceNorm(channels, styles)
        self.conv2, self.norm2 = Conv(channels, channels, 3), ConditionalInstanceNorm(channels, styles)

    def forward(self, h: torch.Tensor, norm: "NormFn") -> torch.Tensor:
        r = F.relu(norm(self.norm1, self.conv1(h)))
        return h + norm(self.norm2, self.conv2(r))


NormFn = Callable[[ConditionalInstanceNorm, torch.Tensor], torch.Tensor]


class TransformerNet(nn.Module):
    """The image transformation network; :meth:`forward` takes the style mix."""

    def __init__(self, shape: NetworkShape) -> None:
        super().__init__()
        w, s = shape.width, shape.styles
        self.shape = shape
        self.conv1, self.norm1 = Conv(3, w, 9), ConditionalInstanceNorm(w, s)
        self.conv2, self.norm2 = Conv(w, 2 * w, 3, 2), ConditionalInstanceNorm(2 * w, s)
        self.conv3, self.norm3 = Conv(2 * w, 4 * w, 3, 2), ConditionalInstanceNorm(4 * w, s)
        self.res = nn.ModuleList(ResidualBlock(4 * w, s) for _ in range(shape.blocks))
        self.up1, self.norm4 = Conv(4 * w, 2 * w, 3, upsample=True), ConditionalInstanceNorm(2 * w, s)
        self.up2, self.norm5 = Conv(2 * w, w, 3, upsample=True), ConditionalInstanceNorm(w, s)
        self.out = Conv(w, 3, 9)

    def norms(self) -> list[ConditionalInstanceNorm]:
        """Every normalisation layer, in forward order."""
        return [m for m in self.modules() if isinstance(m, ConditionalInstanceNorm)]

    def forward(self, x: torch.Tensor, mix: torch.Tensor,
                stats: "NormStats | None" = None) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1], sides multiples of :data:`DOWNSCALE`, to the stylised
        (B, 3, H, W) in [0, 1]. ``mix``: the weight of each style ((S,) or (B, S)).
        ``stats``: each normalisation layer's statistics, given (tiles) or recorded."""
        def norm(layer: ConditionalInstanceNorm, h: torch.Tensor) -> torch.Tensor:
            return layer(h, mix, stats.take(h) if stats is not None else None)

        h = F.relu(norm(self.norm1, self.conv1(x)))
        h = F.relu(norm(self.norm2, self.conv2(h)))
        h = F.relu(norm(self.norm3, self.conv3(h)))
        for block in self.res:
            h = block(h, norm)
        h = F.relu(norm(self.norm4, self.up1(h)))
        h = F.relu(norm(self.norm5, self.up2(h)))
        return torch.sigmoid(self.out(h))


class NormStats:
    """The statistics of every normalisation layer, in forward order: recorded from one pass
    (``record``) and then given to later passes (tiles of the same image), so each tile is
    normalised as the whole image is."""

    def __init__(self, recorded: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> None:
        self.recording = recorded is None
        self.values = [] if recorded is None else list(recorded)
        self._next = 0

    def take(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.recording:
            stats = instance_stats(x)
            self.values.append(stats)
            return stats
        stats = self.values[self._next]
        self._next += 1
        return stats

    def replay(self) -> "NormStats":
        """The recorded statistics, for another pass."""
        return NormStats(self.values)


def one_style(index: int, styles: int) -> torch.Tensor:
    """The mix that paints style ``index`` alone."""
    mix = torch.zeros(styles)
    mix[index] = 1.0
    return mix


def conv_parameters(net: TransformerNet) -> list[nn.Parameter]:
    """The convolutions' weights and biases (everything but the per-style parameters)."""
    norm_params = {id(p) for layer in net.norms() for p in layer.parameters()}
    return [p for p in net.parameters() if id(p) not in norm_params]


def add_styles(net: TransformerNet, count: int) -> TransformerNet:
    """A copy of ``net`` with ``count`` more styles; each new style starts from the mean of
    the existing styles' parameters (a neutral start the new style is trained from)."""
    bigger = TransformerNet(net.shape.with_styles(net.shape.styles + count))
    state = net.state_dict()
    for name, tensor in state.items():
        if name.endswith((".gamma", ".beta")):
            start = tensor.mean(dim=0, keepdim=True).expand(count, -1)
            state[name] = torch.cat([tensor, start])
    bigger.load_state_dict(state)
    return bigger


def expected_shapes(shape: NetworkShape) -> dict[str, tuple[int, ...]]:
    """Every tensor a network of ``shape`` holds, with its shape (what a model file must
    hold exactly)."""
    with torch.device("meta"):
        net = TransformerNet(shape)
    return {name: tuple(t.shape) for name, t in net.state_dict().items()}
