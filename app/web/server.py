"""Running the studio under uvicorn with limits a public server needs.

* **Slow clients** (slowloris): a connection must finish sending a request's headers within
  :data:`HEADER_TIMEOUT_S` of connecting (or of its previous response), else it is closed;
  headers larger than :data:`MAX_HEADER_BYTES` are refused; idle keep-alive connections close
  after :data:`KEEP_ALIVE_S`; more than :data:`MAX_CONNECTIONS` at once get 503.
* **Proxies**: uvicorn's own proxy-header handling is off, because it trusts
  ``X-Forwarded-For`` from 127.0.0.1 by default (anyone on the machine, or a proxy passing
  headers through, could pick their address and dodge the rate limit). The app trusts only
  ``DREAMGEN_TRUSTED_PROXIES`` (:func:`app.web.main.create_app`).
* **Shutdown**: on SIGTERM, open requests (event streams included) get
  :data:`GRACEFUL_SHUTDOWN_S` to finish; then the workers put their jobs back (a few seconds).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from app.settings import Settings

HEADER_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 64 * 1024
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 2000
GRACEFUL_SHUTDOWN_S = 3


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for a request's headers to arrive."""

    header_timeout_s = HEADER_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_request():
            self._cancel_header_deadline()
        else:
            self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._cancel_header_deadline()    # uvicorn's keep-alive timeout takes over

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _in_request(self) -> bool:
        """Headers received and the response not finished yet."""
        return self.cycle is not None and not self.cycle.response_complete

    def _arm_header_deadline(self) -> None:
        if getattr(self, "_header_deadline", None) is None and not self.transport.is_closing():
            self._header_deadline = self.loop.call_later(self.header_timeout_s,
                                                         self._headers_too_slow)

    def _cancel_header_deadline(self) -> None:
        deadline = getattr(self, "_header_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self._in_request() and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments for ``uvicorn.run`` / ``uvicorn.Config``."""
    return dict(host=settings.host, port=settings.port, http=GuardedH11Protocol,
                proxy_headers=False, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
                timeout_keep_alive=KEEP_ALIVE_S, limit_concurrency=MAX_CONNECTIONS,
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)


def run_server(settings: Settings, host: str | None = None, port: int | None = None,
               reload: bool = False) -> None:
    """Serve the studio (``dreamgen serve``) until SIGINT or SIGTERM."""
    import uvicorn

    options = uvicorn_options(settings)
    options.update({k: v for k, v in (("host", host), ("port", port)) if v})
    uvicorn.run("app.web.main:create_app", factory=True, reload=reload, **options)
