"""The engine registry: every engine the studio offers, in one table.

Each :class:`EngineSpec` says what the page, the command line, the weights manager, the video
pipeline and the dispatcher need to know about an engine — its plain name, its weight files,
whether it takes video, whether it reports previews, whether it needs a style image — and
where its implementation lives (imported only when a job runs). Adding an engine is one new
module and one entry in :data:`ENGINES`. Torch-free, so ``dreamgen --help``, the web pages
and the weights manager read it without loading the engines.

An engine module provides ``<image_entry>(content, styles, options, weights, on_progress,
cancel) -> PIL.Image``, or, for a feed-forward engine, only ``<frames_entry>(styles,
options, weights) -> FrameStylizer`` (a class will do), which then makes single pictures too
(:func:`app.engine.feedforward.stylize_single`); ``weights`` maps each of the spec's weight
files to a verified path, plus each of its ``optional_weights`` that is installed and
verified (absent ones are simply left out; the engine decides what to do without them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.engine.errors import StyleTransferError

Mode = Literal["style", "dream"]
MODE_LABELS: dict[str, str] = {"style": "Style transfer", "dream": "Deep Dream"}


@dataclass(frozen=True)
class EngineSpec:
    """One engine: what people see, what it needs, where it lives."""

    name: str                     # the API's and the command line's name
    label: str                    # plain words on the page ("Fast", "Painterly (slow)")
    technical: str                # the method, shown as a hint
    summary: str                  # one line on what to expect
    mode: Mode                    # "style" transfer or "dream"
    weights: tuple[str, ...]      # weight-registry file names it loads
    image_entry: str | None = None    # "module:function" that makes one picture
    frames_entry: str | None = None   # "module:callable" giving a FrameStylizer (video)
    iterative: bool = False       # reports iterations and preview images
    needs_style: bool = True      # a style image is required (else optional or unused)
    auto_rank: int | None = None  # "auto" picks the ready engine with the lowest rank
    optional_weights: tuple[str, ...] = ()  # loaded when installed (better networks), not needed
    # The shortest side of the resized photo or frames the engine's networks still take
    # (its deepest layer's downscaling and padding; checked against the engines' own
    # constants in tests/engine/test_bad_inputs.py), so an upload too narrow for it is
    # refused at once instead of failing in the worker.
    min_side: int = 8

    @property
    def takes_video(self) -> bool:
        """Whether clips can be made with this engine."""
        return self.frames_entry is not None

    @property
    def mode_label(self) -> str:
        return MODE_LABELS[self.mode]

    @property
    def how(self) -> str:
        """The mode and the engine in plain words, said once where they are the same:
        "Style transfer · Fast", "Deep Dream"."""
        if self.label == self.mode_label:
            return self.label
        return f"{self.mode_label} · {self.label}"


_VGG = "adain/vgg_normalised.pth"
_PRUNED_VGG = "cd16x_wct/5SE.pth"
_GOOGLENET = "googlenet/googlenet-1378be20.pth"
_MICROAST = tuple(f"microast/{part}_iter_160000.pth.tar"
                  for part in ("content_encoder", "style_encoder", "modulator", "decoder"))

ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        name="microast", label="Fast", technical="MicroAST (Wang et al., AAAI 2023)",
        summary="One pass, the quickest; works on clips.", mode="style",
        weights=_MICROAST, frames_entry="app.engine.microast:MicroASTStylizer", auto_rank=2),
    EngineSpec(
        name="adain", label="Classic", technical="AdaIN (Huang & Belongie, ICCV 2017)",
        summary="One pass; smooth brush strokes; works on clips.",
        mode="style", weights=(_VGG, "adain/decoder.pth"),
        frames_entry="app.engine.adain:AdaINStylizer", auto_rank=1, min_side=16),
    EngineSpec(
        name="gatys-lite", label="Painterly (slow)",
        technical="Gatys et al. optimisation on a small, fast copy of the VGG-19 picture network",
        summary="Paints the picture step by step, with previews; slower.",
        mode="style", weights=(_PRUNED_VGG,), image_entry="app.engine.gatys:stylize_lite",
        iterative=True, min_side=32),
    EngineSpec(
        name="gatys", label="Painterly, finest (slowest)",
        technical="Gatys, Ecker & Bethge, CVPR 2016, on VGG-19",
        summary="The original Deep Style optimisation; best detail, the slowest.",
        mode="style", weights=(_VGG,), image_entry="app.engine.gatys:stylize_full",
        iterative=True, min_side=32),
    EngineSpec(
        name="deepdream", label="Deep Dream",
        technical="Inceptionism (Mordvintsev, Olah & Tyka, 2015): gradient ascent over octaves",
        summary="Dreams patterns out of the photo, step by step, with previews; no style "
                "image (an optional guide image steers the dream).",
        mode="dream", weights=(_PRUNED_VGG,), image_entry="app.engine.deepdream:dream_image",
        frames_entry="app.engine.deepdream:make_frame_dreamer", iterative=True,
        needs_style=False, optional_weights=(_GOOGLENET, _VGG), min_side=32),
)
BY_NAME: dict[str, EngineSpec] = {spec.name: spec for spec in ENGINES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
CHOICES: tuple[str, ...] = ("auto", *NAMES)     # what a person may ask for


def get_engine(name: str) -> EngineSpec:
    """The spec called ``name``; raises :class:`StyleTransferError` naming the choices."""
    if name not in BY_NAME:
        raise StyleTransferError(f"unknown engine {name!r}; choose one of {', '.join(CHOICES)}")
    return BY_NAME[name]


def auto_candidates() -> list[EngineSpec]:
    """Engines ``auto`` may pick, best first."""
    return sorted((s for s in ENGINES if s.auto_rank is not None),
                  key=lambda s: s.auto_rank or 0)


def video_engines() -> list[EngineSpec]:
    """Engines that make clips."""
    return [spec for spec in ENGINES if spec.takes_video]
