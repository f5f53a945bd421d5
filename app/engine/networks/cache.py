"""The one cache of loaded networks: a worker keeps each network warm between jobs.

Every loader (the VGG-19s, the pruned VGG-19, GoogLeNet, MicroAST's four sub-networks)
builds its network through :func:`cached`, keyed by what makes two loads the same (kind,
checkpoint path, device, dtype), under one lock so two threads never load the same network
twice.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Hashable, TypeVar

T = TypeVar("T")

_NETWORKS: dict[Hashable, Any] = {}
_LOCK = threading.Lock()


def cached(key: Hashable, build: Callable[[], T]) -> T:
    """The network cached under ``key``, built by ``build()`` on first use."""
    with _LOCK:
        if key not in _NETWORKS:
            _NETWORKS[key] = build()
        return _NETWORKS[key]
