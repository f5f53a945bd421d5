"""dreamgen: a self-hosted one-click neural style-transfer studio."""

__version__ = "0.1.0"
