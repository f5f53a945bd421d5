"""What every ``dreamgen`` command shares: the command group, the weights store of this
machine's settings, and bad input as one line on stderr with exit status 2."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

import click

from app.engine.errors import StyleTransferError

if TYPE_CHECKING:
    from app.engine.weights.store import WeightStore


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
    from app.engine.weights.store import WeightStore
    from app.settings import get_settings

    return WeightStore.from_settings(get_settings())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """dreamgen: one-click neural style transfer and Deep Dream (pictures and clips)."""
