"""The engine's error types: one domain error with a message a person can act on."""

from __future__ import annotations


class StyleTransferError(ValueError):
    """Bad input or an impossible request, worded for the person who made it.

    The web layer maps it to an HTTP 4xx (or a failed job) and shows ``str(error)`` verbatim.
    """


class WeightsMissingError(StyleTransferError):
    """A model's weights are absent or fail their SHA-256 check; the message names the fix."""

    def __init__(self, message: str, fix_command: str = "dreamgen weights download") -> None:
        super().__init__(f"{message} Run `{fix_command}` (or `dreamgen weights import FOLDER`).")
        self.fix_command = fix_command


class Cancelled(Exception):
    """Raised inside an engine when its cancel token is set; not an error of the user's."""
