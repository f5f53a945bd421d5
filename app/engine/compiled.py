"""Optional compiled forward passes for the feed-forward engines on CUDA.

``StyleOptions(compiled=True)`` wraps an engine's encode-normalise-decode function in
``torch.compile(mode="reduce-overhead")``: Inductor fuses the pointwise work (ReLU, AdaIN,
the fp16 casts) into the convolutions' epilogues and replays each fixed-shape batch as a CUDA
graph, so per-layer launch overhead disappears. Each new batch shape compiles once (tens of
seconds), which pays off for video (every frame has the same shape) and a warm worker, not
for one image in a fresh process. On the CPU it is never used: compiling took ~30 s and gave
no reliable gain on the 2-core development machine (see the performance README section).
"""

from __future__ import annotations

import logging
from typing import Callable

import torch

log = logging.getLogger(__name__)

Forward = Callable[[torch.Tensor], torch.Tensor]


def compile_for_cuda(forward: Forward) -> Forward:
    """``forward`` compiled for CUDA graphs, falling back to ``forward`` itself (with one
    warning) if compiling or the first compiled call fails. CUDA graphs reuse their output
    buffers, so the result is cloned before the next call can overwrite it."""
    compiled = torch.compile(forward, mode="reduce-overhead", dynamic=False)
    state = {"broken": False}

    def run(x: torch.Tensor) -> torch.Tensor:
        if not state["broken"]:
            try:
                torch.compiler.cudagraph_mark_step_begin()
                return compiled(x).clone()
            except Exception as exc:  # noqa: BLE001 - any compiler failure: run eagerly
                state["broken"] = True
                log.warning("torch.compile failed (%s); running eagerly", exc)
        return forward(x)

    return run
