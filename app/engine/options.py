"""The one options schema: what a person asked an engine to do.

The create form and the JSON API, the command line and the worker all build
:class:`StyleOptions` with :func:`parse_options`, so ranges, defaults and the wording of
refusals live here only. A job row stores :meth:`StyleOptions.stored` (the user's choices,
``size`` for the output side); the worker reads it back with :func:`parse_options` and adds
what only the machine decides (device, memory limits). Torch-free.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from app.engine.errors import StyleTransferError

MAX_STYLES = 8
MAX_ITERATIONS = 2000
MIN_SIDE = 16

# Plain names for refusals ("style strength must be ..." rather than "alpha: ...").
FIELD_NAMES = {
    "engine": "engine", "alpha": "style strength", "style_weights": "style weights",
    "preserve_color": "keep colours", "max_side": "output size", "size": "output size",
    "iterations": "iterations", "optimizer": "optimizer", "content_weight": "content weight",
    "style_weight": "style weight", "tv_weight": "smoothness weight", "init": "start image",
    "coarse_to_fine": "coarse to fine", "preview_every": "preview interval", "seed": "seed",
    "device": "device", "tile_megapixels": "tile size (megapixels)", "tile_side": "tile side",
    "max_megapixels": "image size limit", "depth": "dream depth", "octaves": "octaves",
    "octave_scale": "octave scale", "dream_iterations": "steps per octave",
    "strength": "dream strength", "network": "network", "trim_start": "start of the stretch",
    "trim_end": "end of the stretch", "style_scale": "style scale (brush size)",
    "enhance": "enhance passes", "preset": "quality",
}
# What a person chooses (and a job row keeps); the rest is decided by the machine.
USER_FIELDS = ("engine", "alpha", "style_weights", "preserve_color", "max_side",
               "iterations", "seed", "depth", "octaves", "octave_scale", "dream_iterations",
               "strength", "network", "trim_start", "trim_end", "style_scale", "enhance",
               "preset")
DreamDepth = Literal["textures", "patterns", "shapes", "objects"]   # shallow to deep layers
DreamNetwork = Literal["auto", "pruned-vgg19", "vgg19", "googlenet"]
PresetName = Literal["fast", "balanced", "best"]


class OptionsError(StyleTransferError):
    """Options a person gave that no engine accepts; the message says which and why."""


class StyleOptions(BaseModel):
    """What the user asked for. Fields an engine does not use are ignored by it."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False,
                              validate_by_name=True, validate_by_alias=True)

    engine: str = Field("auto", description="auto (the best engine installed) or an "
                        "engine's name")
    alpha: float = Field(1.0, ge=0.0, le=1.0,
                         description="style strength: 0 keeps the photo, 1 paints it fully")
    style_weights: tuple[float, ...] | None = Field(
        None, description="the mix of the style images, one number each, e.g. 2,1")
    preserve_color: bool = Field(False, description="keep the photo's own colours")
    max_side: int = Field(512, ge=MIN_SIDE, le=16384, alias="size",
                          description="the result's longer side, in pixels (a photo is "
                          "never enlarged)")
    iterations: int = Field(300, ge=1, le=MAX_ITERATIONS,
                            description="Painterly: steps of the painting")
    optimizer: Literal["lbfgs", "adam"] = "lbfgs"                    # Gatys
    content_weight: float = Field(1.0, ge=0.0)                       # Gatys
    style_weight: float = Field(1e4, ge=0.0)   # Gatys: at full strength, vs the photo's own
    tv_weight: float = Field(1e-6, ge=0.0)                           # Gatys, per pixel
    init: Literal["content", "noise"] = "content"                    # Gatys start image
    coarse_to_fine: bool = False      # Gatys: small pass, upsample, refine
    # Gatys, Deep Style's own settings: the style image's size relative to the output before
    # its Gram matrices are taken (2: brush strokes twice as large), and how many passes at
    # half, quarter ... size come before the final one (a big picture in a fraction of the
    # time; the coarse passes get most of the iterations: app/engine/gatys.py).
    style_scale: float = Field(1.0, ge=0.25, le=2.0,
                               description="Painterly: brush size, 0.25 to 2")
    enhance: int = Field(0, ge=0, le=3, description="Painterly: passes at smaller sizes "
                         "before the last, 0 to 3")
    preset: PresetName | None = Field(None, description="quality: fast, balanced or best "
                                      "(fills in what is left blank)")
    preview_every: int = Field(25, ge=0)                             # Gatys previews
    seed: int | None = Field(None, ge=0, le=2**63 - 1,
                            description="random seed, for the same result again")
    device: str = "auto"
    tile_megapixels: float = Field(0.0, ge=0.0)   # feed-forward: tile above this (0: by memory)
    tile_side: int = Field(0, ge=0)               # feed-forward: tile side in px (0: from above)
    compiled: bool = False            # feed-forward on CUDA: torch.compile + CUDA graphs
    max_megapixels: float = Field(40.0, gt=0.0)   # largest content or style image accepted
    # A trained model's file (an engine whose spec ``takes_model``), checked when read, and
    # the largest such file accepted; set by the machine, never stored with a job.
    model_path: str | None = None
    max_model_mb: float = Field(64.0, gt=0.0)
    # Deep Dream (app/engine/deepdream.py). Its own step count, because a dream takes ~10
    # steps per octave where Gatys takes hundreds of iterations.
    depth: DreamDepth = Field("objects", description="Deep Dream: what the dream sees, "
                              "textures, patterns, shapes or objects")
    octaves: int = Field(4, ge=1, le=8, description="Deep Dream: scales, 1 to 8")
    octave_scale: float = Field(1.4, ge=1.1, le=2.0,
                                description="Deep Dream: size ratio between scales")
    dream_iterations: int = Field(10, ge=1, le=200,
                                  description="Deep Dream: steps at each scale")
    strength: float = Field(1.0, gt=0.0, le=10.0, description="Deep Dream: intensity "
                            "(1 is the classic step)")
    network: DreamNetwork = Field("auto", description="Deep Dream: the network, auto "
                                  "(the best installed), pruned-vgg19, vgg19 or googlenet")
    # Clips: only this stretch is made (seconds of the source; None: from the start, to the
    # end), its sound trimmed to match.
    trim_start: float | None = Field(None, ge=0.0, le=86400.0,
                                     description="clips: begin this many seconds in")
    trim_end: float | None = Field(None, gt=0.0, le=86400.0,
                                   description="clips: stop this many seconds in")

    @field_validator("style_weights", mode="before")
    @classmethod
    def _split_weights(cls, value: Any) -> Any:
        """``"2, 1"`` (a form field or a command-line flag) means ``(2.0, 1.0)``; blank is
        no weights."""
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            if not any(parts):
                return None
            try:
                return tuple(float(p) for p in parts)
            except ValueError:
                raise ValueError(f"{value!r} are not numbers separated by commas") from None
        return value

    @field_validator("style_weights")
    @classmethod
    def _check_weights(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return None
        if not value or len(value) > MAX_STYLES:
            raise ValueError(f"give one weight per style image (at most {MAX_STYLES})")
        if any(not math.isfinite(w) or w < 0 for w in value) or sum(value) <= 0:
            raise ValueError("must be zero or more, finite, and not all zero")
        if not math.isfinite(sum(value)):
            raise ValueError("are too large")
        return value

    @model_validator(mode="after")
    def _check_trim(self) -> "StyleOptions":
        if self.trim_start is not None and self.trim_end is not None \
                and self.trim_end <= self.trim_start:
            raise ValueError("the end of the stretch must come after its start")
        return self

    def stored(self) -> dict[str, Any]:
        """The user's choices as a job row keeps them (JSON; ``size`` for the output side)."""
        values = self.model_dump(include=set(USER_FIELDS), by_alias=True)
        values["style_weights"] = list(self.style_weights) if self.style_weights else None
        return values


def _field(name: str) -> Any:
    """The :class:`StyleOptions` field called ``name``, or whose alias it is."""
    fields = StyleOptions.model_fields
    return fields.get(name) or next(f for f in fields.values() if f.alias == name)


def option_default(name: str) -> Any:
    """The default of the option ``name`` (a field or its alias)."""
    return _field(name).default


def option_help(name: str) -> str:
    """What the option ``name`` means, in plain words, with its default: the one text behind
    the create form's documentation and the command line's help."""
    field, default = _field(name), option_default(name)
    if isinstance(default, bool):
        shown = f" (default: {'yes' if default else 'no'})"
    else:
        shown = "" if default in (None, "") else f" (default: {_number(default)})"
    return f"{field.description or FIELD_NAMES.get(name, name)}{shown}"


def describe(error: ValidationError) -> str:
    """One sentence per refused field, in plain words: ``style strength must be at most 1,
    not 3``."""
    return describe_errors(error.errors(include_url=False))


# Where a web request's value came from: the first part of a FastAPI error's ``loc``.
_REQUEST_PARTS = ("body", "query", "path", "form", "header", "cookie")


def field_name(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """The refused field of an error's ``loc`` in plain words (``("body", "alpha")`` is
    "style strength"); None when the error is about the whole value."""
    fields = [str(part) for part in loc if isinstance(part, str) and part not in _REQUEST_PARTS]
    if not fields:
        return None
    return FIELD_NAMES.get(fields[0], fields[0].replace("_", " "))


def describe_errors(items: Any) -> str:
    """:func:`describe` for pydantic's (or FastAPI's request) error dicts."""
    sentences = []
    for item in items:
        name = field_name(item.get("loc") or ())
        message, show_input = _plain(item)
        given = item.get("input")
        shown = ""
        if show_input and isinstance(given, (str, int, float)) and not isinstance(given, bool):
            shown = f", not {given!r}" if isinstance(given, str) and not _is_number(given) \
                else f", not {_number(given)}"
        sentences.append(f"{name} {message}{shown}" if name else message)
    return "; ".join(sentences)


def _plain(item: Any) -> tuple[str, bool]:
    """The refusal in words, and whether quoting the given value helps."""
    kind, context = item["type"], item.get("ctx") or {}
    bounds = {"greater_than_equal": "must be at least {ge}", "less_than_equal":
              "must be at most {le}", "greater_than": "must be more than {gt}",
              "less_than": "must be less than {lt}"}
    if kind in bounds:
        return bounds[kind].format(**{k: _number(v) for k, v in context.items()}), True
    if kind == "finite_number":
        return "must be a finite number", True
    if kind in ("float_parsing", "float_type"):
        return "must be a number", True
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be a whole number", True
    if kind == "literal_error":
        return f"must be one of {context.get('expected', '')}", True
    if kind == "bool_parsing":
        return "must be true or false", True
    if kind == "string_too_long":
        return f"must be at most {context.get('max_length')} characters", False
    if kind in _KINDS:
        return _KINDS[kind], False
    return str(item["msg"]).removeprefix("Value error, "), False


# Request errors (JSON bodies, query strings) whose input is not worth quoting.
_KINDS = {"missing": "is missing", "string_type": "must be text",
          "bool_type": "must be true or false", "dict_type": "must be an object",
          "model_type": "must be a JSON object",
          "json_invalid": "the request body is not valid JSON"}


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_options(values: dict[str, Any], **machine: Any) -> StyleOptions:
    """:class:`StyleOptions` from a person's ``values`` (form fields, flags or a stored job;
    ``None`` means the default) plus the ``machine``'s own fields (device, limits). Raises
    :class:`OptionsError` naming every refused value."""
    given = {k: v for k, v in values.items() if v is not None}
    try:
        return StyleOptions.model_validate({**given, **machine})
    except ValidationError as exc:
        raise OptionsError(describe(exc)) from None
