"""What an engine declares about itself: :class:`EngineSpec`, its :class:`WeightFile` pins
and its :class:`PresetChoice` s.

Each engine's home (a package under :mod:`app.engine.methods`) builds its own spec from these
types; :mod:`app.engine.registry` only collects them. Torch-free and importing nothing of
``app.engine`` but the errors, so the registry, the pages and ``dreamgen --help`` read specs
without loading any network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

Mode = Literal["style", "dream"]
MODE_LABELS: dict[str, str] = {"style": "Style transfer", "dream": "Deep Dream"}
WorkUnits = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True)
class WeightFile:
    """One pinned checkpoint, named by a relative path (``"<folder>/<file>"``). ``size``
    None means the size is not known (only the hash is checked); ``bundled`` files ship
    inside the package (:mod:`app.engine.weights`)."""

    name: str
    url: str
    size: int | None
    sha256: str
    bundled: bool = False

    @property
    def basename(self) -> str:
        return self.name.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class PresetChoice:
    """What one quality choice (``fast``, ``balanced``, ``best``) means for one engine: the
    option values it fills in, and the engine's rank among those of its mode that offer the
    choice (lowest first: "Best" takes the finest one installed)."""

    rank: int
    values: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)


def one_unit(options: Mapping[str, Any]) -> float:
    """The work of a feed-forward run: one pass, whatever the options."""
    return 1.0


@dataclass(frozen=True)
class EngineSpec:
    """One engine: what people see, what it needs, where it lives, what it costs.

    ``image_entry`` / ``frames_entry`` / ``strength_preview`` are ``"module:attribute"``
    paths, imported only when a job runs (they load torch). An engine module provides
    ``image_entry(content, styles, options, weights, on_progress, cancel) -> PIL.Image``, or,
    for a feed-forward engine, only ``frames_entry(styles, options, weights) ->
    FrameStylizer``, which then makes single pictures too; an engine with both makes clips
    with its ``frames_entry`` (a :class:`~app.engine.types.TemporalFrameEngine`: Deep Dream,
    the painterly engines); ``weights`` maps each of the
    spec's weight files to a verified path, plus each optional one that is installed.
    ``strength_preview`` names the engine's :class:`~app.engine.strength_preview.StrengthHooks`
    (an instant re-render at another style strength); ``work_units`` says how much work a
    job's stored options ask for, in the engine's own units (the estimates and the queue
    scale run times by it); ``presets`` what each quality choice means for this engine.
    """

    name: str                     # the API's and the command line's name
    label: str                    # plain words on the page ("Fast", "Painterly (slow)")
    technical: str                # the method, shown as a hint
    summary: str                  # one line on what to expect
    mode: Mode                    # "style" transfer or "dream"
    files: tuple[WeightFile, ...]             # weight files it loads
    image_entry: str | None = None            # "module:function" that makes one picture
    frames_entry: str | None = None           # "module:callable" giving a clip's engine
    iterative: bool = False       # reports iterations and preview images
    needs_style: bool = True      # a style image is required (else optional or unused)
    # Its style is a trained model file (a job's one style file), not style images: the
    # engine reads it from ``StyleOptions.model_path``; ``style_weights`` mix its styles.
    takes_model: bool = False
    auto_rank: int | None = None  # "auto" picks the ready engine with the lowest rank
    optional_files: tuple[WeightFile, ...] = ()   # loaded when installed, not needed
    strength_preview: str | None = None           # "module:HOOKS" (fast engines)
    # The shortest side of the resized photo or frames the engine's networks still take
    # (its deepest layer's downscaling and padding; checked against the engines' own
    # constants in tests/engine/test_bad_inputs.py), so an upload too narrow for it is
    # refused at once instead of failing in the worker.
    min_side: int = 8
    listed: bool = True           # offered on the pages, the API's list and `dreamgen engines`
    # Enhance (a 2x version of a result) starts from the upscaled result and refines it (the
    # painterly engines: their entry takes ``start``); else it re-runs on the enlarged photo.
    refines_result: bool = False
    # Seconds one work unit takes at 512 px on a small CPU: what a job is expected to cost
    # until this server has measured the engine (the queue's per-person cap).
    first_guess_s: float = 1.0
    work_units: WorkUnits = field(default=one_unit, compare=False)
    presets: Mapping[str, PresetChoice] = field(default_factory=dict, hash=False,
                                                compare=False)

    @property
    def weights(self) -> tuple[str, ...]:
        """Names of the weight files it needs."""
        return tuple(f.name for f in self.files)

    @property
    def optional_weights(self) -> tuple[str, ...]:
        """Names of the weight files it uses when they are installed."""
        return tuple(f.name for f in self.optional_files)

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
