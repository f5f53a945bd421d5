"""Engines that break on purpose, registered like any engine (``DREAMGEN_ENGINE_PLUGINS``,
set for the whole test session in ``tests/conftest.py``), so the crash-isolation and power-
cut tests make the worst moments happen with no hook in the product's code.

Each is an image engine of the style mode that takes any style image and is kept off the
pages (``listed=False``); ask for it by name (``engine=test-segfault``) through the API or
the command line:

- ``test-segfault``: the engine process dies of a real SIGSEGV, as a broken native decoder
  makes it;
- ``test-abort``: SIGABRT, as a failed assertion in C++;
- ``test-raise``: an unexpected Python exception (an internal error, not the person's);
- ``test-hang``: neither answers nor exits, as a deadlock in native code;
- ``test-pause-write``: makes a real picture (the photo itself); in a process started with
  ``FAULT_ENGINE_PAUSE_S`` (read here, by the test engine), it then waits that many seconds
  between writing the result's temporary file and renaming it to its final name, so a test
  can kill the server in that window (and a restart without it finishes the job).
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

from PIL import Image

from app.engine.spec import EngineSpec

log = logging.getLogger("dreamgen.worker")
PAUSE_ENV = "FAULT_ENGINE_PAUSE_S"


def _spec(name: str, entry: str, summary: str) -> EngineSpec:
    return EngineSpec(name=name, label=name, technical="a test engine", summary=summary,
                      mode="style", files=(), image_entry=f"tests.support.fault_engines:{entry}",
                      needs_style=False, listed=False)


SPECS = (
    _spec("test-segfault", "segfault", "dies of a segmentation fault"),
    _spec("test-abort", "abort", "aborts"),
    _spec("test-raise", "raise_error", "raises an unexpected exception"),
    _spec("test-hang", "hang", "stops answering"),
    _spec("test-pause-write", "pause_write", "pauses between writing its result and renaming it"),
)


def segfault(*_: Any) -> Image.Image:
    log.warning("a segmentation fault in the engine process, on purpose (test engine)")
    ctypes.string_at(0)          # a real SIGSEGV
    raise AssertionError("unreachable")


def abort(*_: Any) -> Image.Image:
    log.warning("an abort in the engine process, on purpose (test engine)")
    os.abort()


def raise_error(*_: Any) -> Image.Image:
    raise RuntimeError("the GPU caught fire (test fault)")


def hang(*_: Any) -> Image.Image:
    while True:                  # no progress, no exit
        time.sleep(3600)


def pause_write(content: Image.Image, styles: list[Image.Image], options: Any,
                weights: Any, on_progress: Any = None, cancel: Any = None) -> Image.Image:
    """The photo itself, fitted to the size asked for; the next result written in this
    process pauses before its rename when ``FAULT_ENGINE_PAUSE_S`` says so."""
    pause_s = float(os.environ.get(PAUSE_ENV, "0"))
    if pause_s > 0:
        _pause_next_result_rename(pause_s)
    picture = content.convert("RGB")
    picture.thumbnail((options.max_side, options.max_side))
    return picture


def _pause_next_result_rename(seconds: float) -> None:
    """Wrap the media store's atomic write, once, in this (engine) process: the next
    ``results/`` file waits ``seconds`` after its temporary file is written."""
    from app.storage import MediaStore

    original: Callable[..., Any] = MediaStore.write_atomic

    def write_atomic(store: MediaStore, rel: str, writer: Any, *args: Any, **kw: Any) -> Any:
        if not rel.startswith("results/"):
            return original(store, rel, writer, *args, **kw)
        MediaStore.write_atomic = original          # type: ignore[method-assign]

        def slow(temp: Path) -> None:
            writer(temp) if callable(writer) else temp.write_bytes(writer)
            log.warning("pausing %.0f s before renaming %s (test engine)", seconds, temp.name)
            time.sleep(seconds)

        return original(store, rel, slow, *args, **kw)

    MediaStore.write_atomic = write_atomic          # type: ignore[method-assign]
