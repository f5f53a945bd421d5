"""Which torch device and precision to run on."""

from __future__ import annotations

import torch

from app.engine.errors import StyleTransferError


def pick_device(preference: str = "auto") -> torch.device:
    """``auto`` gives the first CUDA GPU when there is one, else the CPU."""
    if preference in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(preference)
    except RuntimeError as exc:
        raise StyleTransferError(f"unknown device {preference!r}; use auto, cpu or cuda") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise StyleTransferError(f"device {preference!r} asked for, but this machine has no GPU")
    return device


def inference_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA (feed-forward engines are stable there), fp32 on the CPU."""
    return torch.float16 if device.type == "cuda" else torch.float32
