"""Child processes for work that may crash: native decoders and the engines.

A segfault, an abort or an out-of-memory kill in Pillow, FFmpeg, OpenCV or torch ends the
process it happens in. Such work runs in a child forked from a clean *fork server* (the
standard library's ``forkserver`` start method): the server imports the heavy libraries once
(:data:`PRELOAD`), so each child starts in milliseconds with them loaded, and a child that
dies takes nothing else with it. A child gets everything it needs as arguments (paths,
limits, settings values): it shares no state with the web process, and it dies with it
(:func:`die_with_parent`).

As in every program that uses multiprocessing's fork server, a script that starts the app
itself must guard its start with ``if __name__ == "__main__":`` (``dreamgen serve`` and
``python -m uvicorn`` do), because each child imports the main module again.

:func:`run_isolated` runs one call in a fresh child (uploads are decoded this way; the child's
memory is returned to the system when it exits). :mod:`app.jobs.runner` keeps one long-lived
child per worker that holds the engines warm.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import traceback
from multiprocessing.context import BaseContext
from typing import Any, Callable

# Imported once by the fork server, so children start with them loaded.
PRELOAD = ("app.jobs.execute", "app.uploads.checks")
_LOCK = threading.Lock()
_CONTEXT: BaseContext | None = None


class ChildCrashed(Exception):
    """The child process died (a signal, or an exit without an answer)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(describe_exit(exitcode))
        self.exitcode = exitcode


class ChildTimedOut(Exception):
    """The child did not answer in time and was killed."""


def describe_exit(exitcode: int | None) -> str:
    """``killed by SIGSEGV (segmentation fault)``, ``exited with status 3``, ..."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        number = -exitcode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        meaning = {"SIGSEGV": "segmentation fault", "SIGABRT": "aborted", "SIGBUS": "bus error",
                   "SIGKILL": "killed, often for using too much memory",
                   "SIGILL": "illegal instruction", "SIGFPE": "arithmetic error"}.get(name)
        return f"killed by {name}" + (f" ({meaning})" if meaning else "")
    return f"exited with status {exitcode}"


def context() -> BaseContext:
    """The fork-server context (created once, with :data:`PRELOAD`)."""
    global _CONTEXT
    with _LOCK:
        if _CONTEXT is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(list(PRELOAD))
            _CONTEXT = ctx
        return _CONTEXT


def die_with_parent() -> None:
    """Make this child die when its parent does (Linux ``PR_SET_PDEATHSIG``).

    A child's parent is the fork server, which exits when the web or worker process that
    started it dies — SIGKILL included. Without this, a child busy in an engine (or paused
    in a test hook) would outlive a killed server and could write files after its restart.
    """
    import ctypes
    import os

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)          # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):          # not Linux: the pipe to the parent still ends it
        return
    if os.getppid() == 1:                      # the parent died before prctl took effect
        os._exit(1)


def warm_up() -> None:
    """Start the fork server now (it imports torch once: seconds), not at the first upload."""
    from multiprocessing import forkserver

    context()
    forkserver.ensure_running()


def run_isolated(function: Callable[..., Any], *args: Any, timeout_s: float = 120.0) -> Any:
    """``function(*args)`` in a fresh child process; its return value, or the exception it
    raised (re-raised here, with the child's traceback text in ``child_traceback``). Raises :class:`ChildCrashed` if the child dies and
    :class:`ChildTimedOut` (after killing it) if it takes longer than ``timeout_s``.
    ``function``, ``args``, the result and exceptions must be picklable."""
    ctx = context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_call, args=(sender, function, args), daemon=True,
                        name="dreamgen-isolated")
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            child.kill()
            child.join()
            raise ChildTimedOut(f"no answer within {timeout_s:.0f} s")
        try:
            ok, value = receiver.recv()
        except (EOFError, OSError):
            child.join()
            raise ChildCrashed(child.exitcode) from None
    finally:
        receiver.close()
    child.join()
    if ok:
        return value
    raise value


def _call(sender: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    die_with_parent()
    try:
        result = (True, function(*args))
    except BaseException as exc:  # handed to the parent, which raises it
        exc.child_traceback = traceback.format_exc()   # travels in the exception's __dict__
        result = (False, exc)
    try:
        sender.send(result)
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        sender.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    sender.close()
