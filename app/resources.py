"""Where the package's data folders are: the page templates, static files and migrations.

In a wheel they are package data inside ``app`` (``app/templates``, ``app/static``,
``app/migrations``: ``pyproject.toml`` maps the top-level folders there at build time) and
are found through :mod:`importlib.resources`. In a source checkout (an editable install, or
running from the tree) the same folders sit at the top of the tree, which is where they are
looked for when the package holds no copy.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# package-data name -> the top-level folder of the source tree the build maps into it
SOURCE_FOLDERS = {"templates": "templates", "static": "static", "migrations": "alembic"}


def package_folder(name: str) -> Path:
    """The folder of package data called ``name`` (``templates``, ``static``, ``migrations``)."""
    if name not in SOURCE_FOLDERS:
        raise KeyError(f"no package data folder {name!r}")
    packaged = resources.files("app") / name
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / SOURCE_FOLDERS[name]
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"dreamgen's {name} folder is missing from this installation "
                            f"(looked in {packaged} and {checkout}); reinstall the package")
