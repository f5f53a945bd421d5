"""The ``dreamgen`` command line: weights, one-off pictures and clips, the server, the workers.

Heavy modules (torch, the engines, uvicorn) are imported inside the commands so that
``dreamgen --help`` answers at once. Bad input ends with exit status 2 and one line on stderr.
The group and what the commands share are in :mod:`app.cli.base`; the commands live in
:mod:`app.cli.weights`, :mod:`app.cli.make`, :mod:`app.cli.dream`, :mod:`app.cli.styles`,
:mod:`app.cli.train`, :mod:`app.cli.server` and :mod:`app.cli.admin`, each registered on the
group when imported here.
"""

from __future__ import annotations

from app.cli import admin, dream, make, server, styles, train, weights  # noqa: F401 (registers)
from app.cli.base import main

__all__ = ["main"]
