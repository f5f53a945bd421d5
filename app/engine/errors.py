"""The engine's error types: one domain error with a message a person can act on."""

from __future__ import annotations


class StyleTransferError(ValueError):
    """Bad input or an impossible request, worded for the person who made it.

    The web layer maps it to an HTTP 4xx (or a failed job) and shows ``str(error)`` verbatim.
    """


class WeightsMissingError(StyleTransferError):
    """A model's weights are absent, damaged or fail their SHA-256 check; the message names
    the file (how to fetch it is the caller's to say: a command for the CLI, the admin page
    for the web)."""


class Cancelled(Exception):
    """Raised inside an engine when its cancel token is set; not an error of the user's."""
