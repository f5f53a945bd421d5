"""What a person asks of a training run: :class:`TrainOptions`, one schema for the create
page, the API, ``dreamgen train`` and the job row (torch-free, like the options schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.engine.errors import StyleTransferError
from app.engine.options import describe_errors

Photos = Literal["auto", "clip"]
# Plain names for refusals ("steps must be at most ..." rather than "steps: ...").
TRAIN_FIELD_NAMES = {"steps": "training steps", "size": "training size",
                     "width": "network width", "blocks": "residual blocks",
                     "batch": "photos per step", "style_size": "style size",
                     "content_weight": "content weight", "style_weight": "style weight",
                     "tv_weight": "smoothness weight", "learning_rate": "learning rate",
                     "seed": "seed", "photos": "photos"}


class TrainOptions(BaseModel):
    """A training run's settings. Defaults: Johnson et al.'s batch of 4 and learning rate,
    a network a quarter of theirs in multiply-adds (``width`` 16; 32 is the paper's), crops
    of 256 px and style images at twice that."""

    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)

    steps: int = Field(2000, ge=1, le=200_000, description="training steps: more is better "
                       "and slower (about 1 s each at 256 px on a small CPU)")
    size: int = Field(256, ge=64, le=1024, description="the side of the photo crops it "
                      "trains on, in pixels")
    width: Literal[8, 16, 32, 64] = Field(16, description="network width: 16 is quick, 32 "
                                          "is the paper's (4x the work)")
    blocks: int = Field(5, ge=1, le=10)
    batch: int = Field(4, ge=1, le=16)
    style_size: int = Field(0, ge=0, le=2048)   # the style images' longer side; 0: 2 x size
    content_weight: float = Field(1.0, ge=0.0, le=1e6)
    style_weight: float = Field(10.0, ge=0.0, le=1e6)
    tv_weight: float = Field(1e-5, ge=0.0, le=1.0)
    learning_rate: float = Field(1e-3, gt=0.0, le=1.0)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    photos: Photos = "auto"      # the admin's folder, else uploads + samples; or the clip's frames

    @field_validator("width", mode="before")
    @classmethod
    def _width_as_number(cls, value: Any) -> Any:
        """A form's or a flag's ``"16"`` is the number 16."""
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @property
    def style_side(self) -> int:
        return self.style_size or 2 * self.size

    def stored(self) -> dict[str, Any]:
        """As a job row keeps them (JSON)."""
        return self.model_dump()

    def network(self) -> dict[str, int]:
        return {"width": self.width, "blocks": self.blocks}


def parse_train_options(values: dict[str, Any]) -> TrainOptions:
    """:class:`TrainOptions` from ``values`` (``None`` means the default); raises
    :class:`StyleTransferError` naming every refused value in plain words."""
    given = {k: v for k, v in values.items() if v is not None and v != ""}
    try:
        return TrainOptions.model_validate(given)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for error in errors:    # "training size", not the picture options' "output size"
            loc = [str(part) for part in error["loc"]]
            error["loc"] = tuple([TRAIN_FIELD_NAMES.get(loc[0], loc[0]), *loc[1:]]) if loc else ()
        raise StyleTransferError(describe_errors(errors)) from None
