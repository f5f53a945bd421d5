"""The create form: one pydantic model for the page's form, the JSON API's multipart body
and its documentation at ``/docs`` (FastAPI reads it as a form model).

Every option field takes its description from the options schema
(:func:`app.engine.options.option_help`), so the page, ``/docs`` and ``dreamgen stylize
--help`` say the same thing; the page's starting values come from here too
(:func:`page_defaults`). Option fields arrive as text: blank means "not given", so the
quality choice (``preset``) or the schema's default decides.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from app.engine.errors import StyleTransferError
from app.engine.options import StyleOptions, option_default, option_help, parse_options
from app.engine.presets import preset_values
from app.engine.registry import BY_NAME, CHOICES, dream_engine
from app.engine.weights.store import WeightStore
from app.refusals import Refused
from app.settings import Settings

MIN_SIZE = 64
VISIBILITIES = ("public", "unlisted")
MODES = ("style", "dream")
DEFAULT_PRESET = "balanced"   # the page starts on Balanced (the API: no preset)
# Options that arrive as text and count only when not blank, besides engine, size and
# iterations: the Painterly, Deep Dream and clip settings.
# Fields the page fills from elsewhere: the chosen photo's and styles' cards, and the
# network auto settles.
FILLED_OTHERWISE = ("content_from", "style_from", "style_weights", "network", "model_id",
                    "model_style")
EXTRA_OPTIONS = ("style_scale", "enhance", "depth", "octaves", "dream_iterations", "strength",
                 "network", "seed", "trim_start", "trim_end")


def _option(name: str) -> Any:
    """A text form field for the option ``name``: blank, described as the schema says."""
    return Field("", description=option_help(name) + "; blank: the quality's or the default")


class CreateForm(BaseModel):
    """The fields of a create request (multipart): ``content`` (or ``content_from``) plus one
    or more ``style`` (none for Deep Dream, where one optional ``guide`` steers it)."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=True)

    content: UploadFile | str | None = Field(None, description="the photo or clip")
    style: list[UploadFile | str] = Field(default_factory=list, description="a style image "
                                          "(repeat for several)")
    guide: UploadFile | str | None = Field(None, description="Deep Dream: an optional "
                                           "guide image")
    mask: UploadFile | str | None = Field(None, description="a greyscale PNG: white where "
                                          "the style goes, black where the photo (or a "
                                          "second style) stays; scaled to the photo, its "
                                          "edges feathered; empty or all white: no mask")
    content_from: str = Field("", description="the id of your own earlier job whose photo "
                              "or clip to use again")
    style_from: str = Field("", description="the id of a result whose styles to use again "
                            "(only when no style or style_id is given)")
    style_id: list[str] = Field(default_factory=list, description="a style from the "
                                "library (repeatable, after the uploads)")
    mode: str = Field("style", description="style (transfer) or dream (Deep Dream)")
    preset: str = Field("", description=option_help("preset"))
    engine: str = Field("", description=option_help("engine") + "; blank: the quality's")
    alpha: float = Field(option_default("alpha"), description=option_help("alpha"))
    style_weights: str = Field("", description=option_help("style_weights"))
    preserve_color: bool = Field(False, description=option_help("preserve_color"))
    size: str = _option("size")
    iterations: str = _option("iterations")
    style_scale: str = _option("style_scale")
    enhance: str = _option("enhance")
    depth: str = _option("depth")
    octaves: str = _option("octaves")
    dream_iterations: str = _option("dream_iterations")
    strength: str = _option("strength")
    network: str = _option("network")
    seed: str = _option("seed")
    trim_start: str = _option("trim_start")
    trim_end: str = _option("trim_end")
    model_id: str = Field("", description="paint with this fast model (yours, or one "
                          "from the style library) instead of style images")
    model_style: str = Field("", description="which of the fast model's styles, from 1 "
                             "(blank: all of them, mixed equally)")
    visibility: str = Field("public", description="public (in the gallery) or unlisted "
                            "(only with its link)")
    share_styles: bool = Field(False, description="add the uploaded style images to the "
                               "public style library")
    title: str = Field("", max_length=1000, description="a title, shown to everyone "
                       "(default: \"Untitled\"; your own pages show your file's name)")
    show_original: bool = Field(False, description="show the original photo to others "
                                "(default: only to you)")

    @property
    def styles(self) -> list[UploadFile | str]:
        return self.style

    @property
    def style_ids(self) -> list[str]:
        return [s for s in self.style_id if s.strip()]

    @property
    def extra(self) -> dict[str, str]:
        """The Painterly, Deep Dream and clip settings as typed."""
        return {name: getattr(self, name) for name in EXTRA_OPTIONS}

    def values(self) -> dict[str, object]:
        """The settings as typed (the page shows them again after a refusal)."""
        return dict(self.extra, mode=self.mode, preset=self.preset, engine=self.engine,
                    size=self.size, iterations=self.iterations, alpha=self.alpha,
                    preserve_color=self.preserve_color, visibility=self.visibility,
                    share_styles=self.share_styles, title=self.title,
                    model_id=self.model_id, model_style=self.model_style)

    def options(self, settings: Settings, weights: WeightStore) -> StyleOptions:
        """The quality choice and the options schema applied to the fields, plus this
        server's own limits; raises :class:`Refused` (422) naming every refused
        value."""
        if self.mode not in MODES:
            raise Refused(f"mode must be style or dream, not {self.mode!r}")
        engine = dream_engine().name if self.mode == "dream" else self.engine.strip()
        if engine and engine not in CHOICES:
            raise Refused(f"unknown engine {engine!r}; choose one of "
                          f"{', '.join(CHOICES)}")
        values = self._preset_values(settings, weights)
        explicit = dict(engine=engine, size=self.size, iterations=self.iterations,
                        **self.extra)
        values.update({k: v for k, v in explicit.items() if v.strip()})  # blank: not given
        try:
            options = parse_options(dict(values, alpha=self.alpha,
                                         style_weights=self.style_weights,
                                         preserve_color=self.preserve_color),
                                    max_megapixels=settings.max_image_megapixels)
        except StyleTransferError as exc:
            raise Refused(str(exc)) from None
        if not MIN_SIZE <= options.max_side <= settings.max_output_side:
            raise Refused(f"output size must be between {MIN_SIZE} and "
                          f"{settings.max_output_side} pixels, not {options.max_side}")
        if self.visibility not in VISIBILITIES:
            raise Refused("visibility must be public or unlisted")
        return options

    def _preset_values(self, settings: Settings, weights: WeightStore) -> dict[str, object]:
        """What the quality choice gives, its size kept within this server's limit."""
        if not self.preset.strip():
            return {}
        try:
            values = preset_values(self.preset.strip(), self.mode,
                                   lambda name: weights.engine_ready(BY_NAME[name]))
        except StyleTransferError as exc:
            raise Refused(str(exc)) from None
        values["size"] = min(int(values["size"]), settings.max_output_side)
        return values


# File(), not Form(): the request is multipart (its files are fields of the model), and the
# API's document says so.
FormDep = Annotated[CreateForm, File()]


def page_defaults() -> dict[str, Any]:
    """What the create page's fields start as: the form's own defaults (blank: the quality
    choice decides), the page's quality, and the schema's defaults for the sliders and
    choices the page always shows."""
    values: dict[str, Any] = {name: field.default for name, field
                              in CreateForm.model_fields.items()
                              if isinstance(field.default, (str, bool, float))
                              and name not in FILLED_OTHERWISE}
    values.update(preset=DEFAULT_PRESET,
                  **{name: option_default(name) for name in ("style_scale", "depth")})
    return values
