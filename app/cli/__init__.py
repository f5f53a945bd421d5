"""The ``dreamgen`` command line: weights, one-off pictures and clips, the server, the workers.

Heavy modules (torch, the engines, uvicorn) are imported inside the commands so that
``dreamgen --help`` answers at once. Bad input ends with exit status 2 and one line on stderr.
The commands live in :mod:`app.cli.weights`, :mod:`app.cli.make`, :mod:`app.cli.dream`,
:mod:`app.cli.styles`, :mod:`app.cli.server` and :mod:`app.cli.admin`.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

import click

from app.engine.errors import StyleTransferError

if TYPE_CHECKING:
    from app.engine.weights import WeightStore


class UserError(click.ClickException):
    """Bad input or options: ``Error: <message>`` on one line, exit status 2, no traceback."""

    exit_code = 2


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the engine's domain errors into :class:`UserError`."""
    try:
        yield
    except StyleTransferError as exc:
        raise UserError(" ".join(str(exc).split())) from None


def weight_store() -> "WeightStore":
    """The weights store of this machine's settings (``DREAMGEN_*``)."""
    from app.engine.weights import WeightStore
    from app.settings import get_settings

    return WeightStore.from_settings(get_settings())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """dreamgen: one-click neural style transfer and Deep Dream (pictures and clips)."""


from app.cli import admin, dream, make, server, styles, weights  # noqa: E402  (registers them)

__all__ = ["main", "UserError", "user_errors", "weight_store", "admin", "dream", "make",
           "server", "styles", "weights"]
