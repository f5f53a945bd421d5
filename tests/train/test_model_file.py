"""Model files: safetensors with dreamgen's header, written and read back; and every way a
file is refused before anything of it is trusted (size, pickles, damage, a header that lies,
shapes, values), each with a reason in words."""

from __future__ import annotations

import io
import json
import struct
import zipfile

import pytest
import torch
from safetensors.torch import save as save_safetensors

from app.engine.methods.trained.model_file import (
    HEADER_KEY,
    ModelRefused,
    parse_model,
    read_header,
)
from tests.support.fast_models import model_file_bytes, seeded_network

LIMIT = 8 * 2**20


def _rewrite(data: bytes, change) -> bytes:  # type: ignore[no-untyped-def]
    """``data`` with its JSON table changed by ``change`` (the tensor bytes kept)."""
    (length,) = struct.unpack("<Q", data[:8])
    table = json.loads(data[8:8 + length])
    change(table)
    head = json.dumps(table).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + data[8 + length:]


def test_a_model_reads_back_as_it_was_written(tmp_path) -> None:
    net = seeded_network(width=8, blocks=1, styles=2, seed=4)
    data = model_file_bytes(width=8, blocks=1, styles=2, seed=4)
    header, tensors = parse_model(data, LIMIT)
    assert header.style_names == ["Stripes 1", "Stripes 2"]
    assert (header.network.width, header.network.blocks, header.network.styles) == (8, 1, 2)
    assert header.training == {"generated": True}
    for name, tensor in net.state_dict().items():
        assert torch.equal(tensors[name], tensor)
    (tmp_path / "m.safetensors").write_bytes(data)
    assert read_header(tmp_path / "m.safetensors") == header


def _refusal(data: bytes, limit: int = LIMIT) -> ModelRefused:
    with pytest.raises(ModelRefused) as caught:
        parse_model(data, limit)
    return caught.value


def test_an_oversized_file_is_refused_before_it_is_read() -> None:
    refused = _refusal(model_file_bytes(), limit=1000)
    assert refused.too_large and "the limit is" in str(refused)


def test_pickles_are_refused_by_their_first_bytes() -> None:
    buffer = io.BytesIO()
    torch.save(seeded_network().state_dict(), buffer)          # a zip holding a pickle
    assert zipfile.is_zipfile(io.BytesIO(buffer.getvalue()))
    assert "pickle" in str(_refusal(buffer.getvalue()))
    buffer = io.BytesIO()
    torch.save({"a": torch.zeros(2)}, buffer, _use_new_zipfile_serialization=False)
    assert "never opens" in str(_refusal(buffer.getvalue()))   # a bare pickle


@pytest.mark.parametrize(("damage", "words"), [
    (lambda d: d[:-100], "cut short"),
    (lambda d: d + b"extra bytes", "does not describe"),
    (lambda d: d[:5], "too short"),
    (lambda d: struct.pack("<Q", 10**9) + d[8:], "header length"),
    (lambda d: d[:8] + b"{not json" + d[17:], "not readable"),
])
def test_damaged_files_are_refused(damage, words) -> None:  # type: ignore[no-untyped-def]
    assert words in str(_refusal(damage(model_file_bytes())))


def test_a_header_that_does_not_match_the_tensors_is_refused() -> None:
    data = model_file_bytes(styles=2)

    def claim_three_styles(table) -> None:  # type: ignore[no-untyped-def]
        header = json.loads(table["__metadata__"][HEADER_KEY])
        header["network"]["styles"] = 3
        header["styles"].append({"name": "Ghost"})
        table["__metadata__"][HEADER_KEY] = json.dumps(header)

    assert "has shape" in str(_refusal(_rewrite(data, claim_three_styles)))

    def drop_a_name(table) -> None:  # type: ignore[no-untyped-def]
        header = json.loads(table["__metadata__"][HEADER_KEY])
        header["styles"].pop()
        table["__metadata__"][HEADER_KEY] = json.dumps(header)

    assert "names 1 styles for a network of 2" in str(_refusal(_rewrite(data, drop_a_name)))

    def absurd_width(table) -> None:  # type: ignore[no-untyped-def]
        header = json.loads(table["__metadata__"][HEADER_KEY])
        header["network"]["width"] = 4096
        table["__metadata__"][HEADER_KEY] = json.dumps(header)

    assert "network.width" in str(_refusal(_rewrite(data, absurd_width)))


def test_missing_extra_and_mistyped_tensors_are_refused() -> None:
    net = seeded_network(styles=1)
    header = json.dumps({"format": "dreamgen-fast-model", "version": 1,
                         "network": {"width": 8, "blocks": 1, "styles": 1},
                         "styles": [{"name": "a"}], "training": {}})
    state = dict(net.state_dict())
    missing = {k: v for k, v in state.items() if k != "out.conv.bias"}
    assert "lacks out.conv.bias" in str(_refusal(save_safetensors(missing, {HEADER_KEY: header})))
    extra = {**state, "payload": torch.zeros(4)}
    assert "unknown tensors payload" in str(_refusal(save_safetensors(extra,
                                                                      {HEADER_KEY: header})))
    half = {k: v.half() for k, v in state.items()}
    assert "not float32" in str(_refusal(save_safetensors(half, {HEADER_KEY: header})))


def test_values_that_are_not_finite_are_refused() -> None:
    net = seeded_network(styles=1)
    state = dict(net.state_dict())
    state["norm1.gamma"] = state["norm1.gamma"].clone()
    state["norm1.gamma"][0, 0] = float("nan")
    header = json.dumps({"format": "dreamgen-fast-model", "version": 1,
                         "network": {"width": 8, "blocks": 1, "styles": 1},
                         "styles": [{"name": "a"}], "training": {}})
    refused = _refusal(save_safetensors(state, {HEADER_KEY: header}))
    assert "norm1.gamma" in str(refused) and "not finite" in str(refused)


def test_a_safetensors_file_of_something_else_is_refused() -> None:
    other = save_safetensors({"weight": torch.zeros(3)}, {"format": "pt"})
    assert "no dreamgen header" in str(_refusal(other))
