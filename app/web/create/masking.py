"""A create request's brushed mask (the ``mask`` file field): it is streamed and checked
with the other uploads (decoded in the checking child, kept as a greyscale PNG), refused on a
clip or with more styles than a masked picture uses, dropped when blank, and recorded in the
job's options (``mask``: how its edge is feathered and what the rest gets)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import UploadFile

from app.engine.errors import StyleTransferError
from app.engine.masked import check_masked_styles, rest_is_styled
from app.engine.masks import FEATHER_SHARE, MIN_FEATHER_PX
from app.engine.spec import EngineSpec
from app.refusals import Refused
from app.storage import MediaStore
from app.uploads.storing import StoredUpload

MASK_WHAT = "the mask"


def mask_raws(store: MediaStore, masks: list[UploadFile]) -> list[tuple[Path, str, str]]:
    """The temporary file the chosen mask (if any) is streamed to, after the other raws."""
    return [(store.temp_path_for(store.new_path("uploads", ".part")), "mask", MASK_WHAT)
            for _ in masks[:1]]


def mask_details(store: MediaStore, spec: EngineSpec, content: StoredUpload,
                 mask: StoredUpload | None, styles: int) -> dict[str, Any]:
    """The job row's ``mask_path`` and what its options record of the mask (under
    ``"options"``); nothing for no mask or a blank one (whose file is removed). Refuses a
    mask on a clip, and more styles than a masked picture takes."""
    if mask is None:
        return {}
    if mask.blank:
        store.remove([mask.rel])
        return {}
    if content.kind == "video":
        raise Refused("masks work on pictures only; send the clip without a mask")
    try:
        check_masked_styles(spec, styles)
    except StyleTransferError as exc:
        raise Refused(str(exc)) from None
    rest = "the second style" if rest_is_styled(spec, styles) else "the photo"
    record = {"feather": f"{FEATHER_SHARE:.0%} of the longer side, at least "
                         f"{MIN_FEATHER_PX} px", "rest": rest}
    return {"mask_path": mask.rel, "options": {"mask": record}}
