"""Loading checkpoints: one way, with one error policy, for every engine.

A checkpoint is read with ``torch.load(weights_only=True)`` (no pickled code runs) and loaded
with ``strict=True``. Anything that goes wrong — a missing, empty, truncated or corrupt file,
a zip archive cut short, a file that is not a state dict, keys or shapes of another network —
is a :class:`~app.engine.errors.WeightsMissingError` naming the file and what it should have
been, never an internal error.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from app.engine.errors import WeightsMissingError

# What torch.load and load_state_dict raise on bad files: truncated zips (zipfile/RuntimeError),
# old-format pickles cut short (EOFError, UnpicklingError), wrong types (AttributeError,
# TypeError), bad keys or shapes (RuntimeError), unreadable files (OSError).
_LOAD_ERRORS = (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile,
                AttributeError, TypeError, ValueError, KeyError, IndexError, OSError)


def read_state(path: Path, what: str, key: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict in ``path`` (``what`` names the network in messages). ``key`` picks a
    nested entry when present (``{"epoch": .., "model": state}``)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsMissingError(f"{what} weights {path.name!r} are missing ({path}).")
    try:
        state: Any = torch.load(path, map_location="cpu", weights_only=True)
    except _LOAD_ERRORS as exc:
        raise WeightsMissingError(f"{what} weights {path.name!r} cannot be read: the file is "
                                  f"damaged or truncated ({_short(exc)}).") from exc
    if key is not None and isinstance(state, dict) and key in state:
        state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsMissingError(f"{path.name!r} is not a {what} checkpoint of the expected "
                                  "layout (it holds no state dict of tensors).")
    return state


def load_strict(module: nn.Module, path: Path, what: str, key: str | None = None) -> nn.Module:
    """Load ``path`` into ``module`` with ``strict=True`` and return it; any mismatch is a
    :class:`WeightsMissingError` naming the file."""
    state = read_state(path, what, key)
    try:
        module.load_state_dict(state, strict=True)
    except _LOAD_ERRORS as exc:
        raise WeightsMissingError(f"{Path(path).name!r} is not a {what} checkpoint of the "
                                  f"expected layout ({_short(exc)}).") from exc
    return module


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
