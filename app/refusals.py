"""A refusal: something a person asked for that the studio will not do, with the HTTP
status that says why (422 bad input, 413 too large, 415 wrong type, 409 conflict, 429 too
often, 503 busy, 507 no disk). Raised by the web layer, the upload checks (in a child
process) and the services they share; the web layer turns it into a page or JSON
(its error handlers)."""

from __future__ import annotations

from app.engine.errors import StyleTransferError


class Refused(StyleTransferError):
    """A request, upload or form value we refuse, with the HTTP status that says why."""

    def __init__(self, message: str, status_code: int = 422,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.headers = headers

    def __reduce__(self):  # type: ignore[no-untyped-def]
        """Keep the status when it crosses a process boundary (uploads are checked in a
        child process)."""
        return (type(self), (str(self), self.status_code, self.headers))
