"""Trained models as files people share: safetensors with a small JSON header.

A model file is a safetensors file (a length, a JSON table of tensors, the raw float32
bytes: nothing in it can run code) whose ``__metadata__`` holds, under ``"dreamgen"``, the
:class:`ModelHeader`: the network's shape, its styles' names and how it was trained. Every
model is read through :func:`read_model`, which checks before it trusts: the size limit, that
it is not a pickle (a ``.pt``/``.pth`` file is never opened), the header, that every tensor
the network needs is there with its exact shape and dtype and nothing else is, and that
every value is finite. A refusal is a :class:`ModelRefused` whose message says why.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from app.engine.errors import StyleTransferError
from app.engine.methods.trained.network import (
    NetworkShape,
    TransformerNet,
    expected_shapes,
)

FORMAT = "dreamgen-fast-model"
VERSION = 1
HEADER_KEY = "dreamgen"
SUFFIX = ".safetensors"
MAX_MODEL_STYLES = 32
MAX_HEADER_BYTES = 1 << 20          # the tensor table of the largest network is ~10 KB
TITLE_LENGTH = 120


class ModelRefused(StyleTransferError):
    """A model file dreamgen will not use, with the reason; ``too_large`` for the size
    limit (the web answers 413 then, else 422)."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (str(self), self.too_large))


class ShapeHeader(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    width: int = Field(ge=4, le=64)
    blocks: int = Field(ge=1, le=10)
    styles: int = Field(ge=1, le=MAX_MODEL_STYLES)


class StyleHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=TITLE_LENGTH)


class ModelHeader(BaseModel):
    """What a model file says about itself: the network's shape, one entry per style (in
    the order of its normalisation parameters) and the training settings (free-form, for
    people to read)."""

    model_config = ConfigDict(extra="forbid")

    format: str = FORMAT
    version: int = VERSION
    network: ShapeHeader
    styles: list[StyleHeader]
    training: dict[str, Any] = Field(default_factory=dict)

    @property
    def shape(self) -> NetworkShape:
        return NetworkShape(self.network.width, self.network.blocks, self.network.styles)

    @property
    def style_names(self) -> list[str]:
        return [s.name for s in self.styles]


def header_for(net: TransformerNet, names: list[str], training: dict[str, Any]) -> ModelHeader:
    """The header of ``net`` whose styles are called ``names``."""
    shape = net.shape
    return ModelHeader(network=ShapeHeader(width=shape.width, blocks=shape.blocks,
                                           styles=shape.styles),
                       styles=[StyleHeader(name=n[:TITLE_LENGTH]) for n in names],
                       training=training)


def model_bytes(net: TransformerNet, header: ModelHeader) -> bytes:
    """The model file of ``net`` (float32 tensors on the CPU) with ``header``."""
    state = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    return save_safetensors(state, metadata={HEADER_KEY: header.model_dump_json()})


def _refuse_pickles(head: bytes) -> None:
    """PyTorch's ``.pt``/``.pth`` files are zip archives or bare pickles: both can run code
    when loaded, so they are refused by their first bytes, never opened."""
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        raise ModelRefused("this is a PyTorch pickle (.pt/.pth), not a dreamgen model: "
                           "pickles can run code when opened, so dreamgen never opens "
                           "them; export the model from a dreamgen studio (.safetensors)")


def _table(data: bytes) -> dict[str, Any]:
    """The safetensors JSON table at the start of ``data``, checked for size."""
    _refuse_pickles(data[:8])
    if len(data) < 8:
        raise ModelRefused("the model file is damaged: it is too short to hold a model")
    (length,) = struct.unpack("<Q", data[:8])
    if length > MAX_HEADER_BYTES or 8 + length > len(data):
        raise ModelRefused("the model file is damaged or not a safetensors file: its header "
                           "length does not fit the file")
    try:
        table = json.loads(data[8:8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelRefused("the model file is damaged: its header is not readable") from None
    if not isinstance(table, dict):
        raise ModelRefused("the model file is damaged: its header is not a table of tensors")
    return table


def _header(table: dict[str, Any]) -> ModelHeader:
    meta = table.get("__metadata__") or {}
    if not isinstance(meta, dict) or HEADER_KEY not in meta:
        raise ModelRefused("this safetensors file has no dreamgen header, so it is not a "
                           "model trained by dreamgen")
    try:
        header = ModelHeader.model_validate_json(meta[HEADER_KEY])
    except (ValidationError, TypeError) as exc:
        raise ModelRefused(f"the model's header is not valid ({_first_error(exc)})") from None
    if header.format != FORMAT or header.version != VERSION:
        raise ModelRefused(f"this is a {header.format} file of version {header.version}; "
                           f"this studio reads {FORMAT} version {VERSION}")
    if len(header.styles) != header.network.styles:
        raise ModelRefused(f"the model's header names {len(header.styles)} styles for a "
                           f"network of {header.network.styles}")
    return header


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {error['msg']}" if where else str(error["msg"])
    return str(exc)


def _check_table(table: dict[str, Any], shape: NetworkShape) -> None:
    """Every tensor the network needs, with its exact shape, float32, and nothing else."""
    expected = expected_shapes(shape)
    found = {k: v for k, v in table.items() if k != "__metadata__"}
    missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or extra:
        parts = ([f"lacks {', '.join(missing[:3])}"] if missing else []) + \
                ([f"holds unknown tensors {', '.join(extra[:3])}"] if extra else [])
        raise ModelRefused(f"the model's tensors do not match its header: it {' and '.join(parts)}")
    for name, entry in found.items():
        if not isinstance(entry, dict) or entry.get("dtype") != "F32":
            raise ModelRefused(f"tensor {name} is not float32")
        if tuple(entry.get("shape") or ()) != expected[name]:
            raise ModelRefused(f"tensor {name} has shape {tuple(entry.get('shape') or ())}; "
                               f"a network of this header needs {expected[name]}")


def _check_length(table: dict[str, Any], data: bytes) -> None:
    """The tensors' bytes end exactly where the file does (a cut-off download, or bytes
    added after it, are damage)."""
    (length,) = struct.unpack("<Q", data[:8])
    ends = [entry.get("data_offsets", [0, 0])[1] for name, entry in table.items()
            if name != "__metadata__" and isinstance(entry, dict)]
    body = len(data) - 8 - length
    expected = max(ends, default=0)
    if not isinstance(expected, int) or body != expected:
        missing = expected - body if isinstance(expected, int) else 0
        raise ModelRefused("the model file is damaged: " + (
            f"it is cut short ({missing} bytes of its tensors are missing)" if missing > 0
            else "it holds bytes its header does not describe"))


def parse_model(data: bytes, max_bytes: int) -> tuple[ModelHeader, dict[str, torch.Tensor]]:
    """The header and tensors of a model file's bytes, after every check (see the module's
    docstring); raises :class:`ModelRefused`."""
    if len(data) > max_bytes:
        raise ModelRefused(f"the model file is {len(data) / 2**20:.1f} MB; the limit is "
                           f"{max_bytes / 2**20:.0f} MB", too_large=True)
    table = _table(data)
    header = _header(table)
    _check_table(table, header.shape)
    _check_length(table, data)
    try:
        tensors = load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelRefused(f"the model file is damaged ({exc})") from None
    for name, tensor in tensors.items():
        if not bool(torch.isfinite(tensor).all()):
            raise ModelRefused(f"tensor {name} holds values that are not finite numbers "
                               "(NaN or infinity): the training went wrong or the file is "
                               "damaged")
    return header, tensors


def read_model(path: Path, max_bytes: int) -> tuple[ModelHeader, dict[str, torch.Tensor]]:
    """:func:`parse_model` of the file at ``path`` (its size is checked before it is read)."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ModelRefused(f"the model file is {size / 2**20:.1f} MB; the limit is "
                               f"{max_bytes / 2**20:.0f} MB", too_large=True)
        data = path.read_bytes()
    except OSError as exc:
        raise ModelRefused(f"the model file cannot be read ({exc.strerror or exc})") from None
    return parse_model(data, max_bytes)


def read_header(path: Path) -> ModelHeader:
    """Only the header of the model file at ``path`` (its tensors are not read: for a file
    this studio wrote itself, whose name and styles are wanted)."""
    with path.open("rb") as opened:
        head = opened.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        data = head + opened.read(min(length, MAX_HEADER_BYTES))
    return _header(_table(data))


def load_network(path: Path, max_bytes: int, device: torch.device | str = "cpu"
                 ) -> tuple[ModelHeader, TransformerNet]:
    """The checked model at ``path`` as a network in eval mode, no gradients, on ``device``."""
    header, tensors = read_model(path, max_bytes)
    net = TransformerNet(header.shape)
    net.load_state_dict(tensors, strict=True)
    return header, net.eval().requires_grad_(False).to(device)


def megabytes(limit_mb: float) -> int:
    """``limit_mb`` MiB in bytes."""
    return int(math.floor(limit_mb * 2**20))
