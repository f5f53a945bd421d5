"""The ``dreamgen`` command line (filled in by the engines/CLI work)."""

import click


@click.group()
def main() -> None:
    """dreamgen: one-click neural style transfer."""
