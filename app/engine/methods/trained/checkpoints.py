"""Resumable training: a checkpoint is the network, Adam's moments and the step to resume
at, as one safetensors file (tensors only, nothing that runs code) with a JSON header.

A run writes one every ``checkpoint_every`` steps and hands it to whoever makes it durable
(the job records it in its row, the command line keeps it beside the model); a run that
starts with one continues at its step. A checkpoint of other settings (a resumed job whose
options were changed, another command) is refused, so a run never mixes two trainings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from app.engine.errors import StyleTransferError
from app.engine.methods.trained.training import Trainer

META_KEY = "dreamgen-checkpoint"
_OPTIM_FIELDS = ("exp_avg", "exp_avg_sq", "step")


def save_checkpoint(trainer: Trainer, step: int, path: Path, identity: dict[str, Any]) -> None:
    """Write ``trainer``'s state to resume at ``step`` to ``path``; ``identity`` (the
    training's settings and inputs) must match when it is read back."""
    tensors = {f"net.{k}": v.detach().cpu().contiguous()
               for k, v in trainer.net.state_dict().items()}
    state = trainer.optimizer.state_dict()["state"]
    for index, moments in state.items():
        for name in _OPTIM_FIELDS:
            value = moments[name]
            tensor = value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
            tensors[f"optim.{index}.{name}"] = tensor.detach().cpu().float().contiguous()
    meta = {"step": step, "identity": identity, "first": trainer.history.first}
    save_file(tensors, str(path), metadata={META_KEY: json.dumps(meta, sort_keys=True)})


def resume_step(trainer: Trainer, path: Path, identity: dict[str, Any]) -> int:
    """Load the checkpoint at ``path`` into ``trainer`` and return the step it resumes at;
    raises :class:`StyleTransferError` when it is unreadable or of another training."""
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as opened:
            meta = json.loads((opened.metadata() or {})[META_KEY])
    except (SafetensorError, OSError, KeyError, ValueError) as exc:
        raise StyleTransferError(f"the training checkpoint cannot be read ({exc})") from None
    if meta.get("identity") != json.loads(json.dumps(identity, sort_keys=True)):
        raise StyleTransferError("the training checkpoint belongs to other settings")
    net_state = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
    trainer.net.load_state_dict(net_state, strict=True)
    optim = trainer.optimizer.state_dict()
    for index in range(len(optim["param_groups"][0]["params"])):
        if f"optim.{index}.step" in tensors:
            optim["state"][index] = {name: tensors[f"optim.{index}.{name}"].to(trainer.device)
                                     if name != "step" else tensors[f"optim.{index}.step"]
                                     for name in _OPTIM_FIELDS}
    trainer.optimizer.load_state_dict(optim)
    trainer.history.first = dict(meta.get("first") or {})
    return int(meta["step"])
