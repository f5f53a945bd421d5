"""Running the studio under uvicorn with limits a public server needs.

* **Slow clients** (slowloris): a connection must finish sending a request's headers within
  :data:`HEADER_TIMEOUT_S` of connecting (or of its previous response), else it is closed;
  headers larger than :data:`MAX_HEADER_BYTES` are refused; idle keep-alive connections close
  after :data:`KEEP_ALIVE_S`; more than :data:`MAX_CONNECTIONS` at once get 503.
* **One client's share**: one client address may hold at most
  ``DREAMGEN_MAX_CONNECTIONS_PER_CLIENT`` connections at once; a connection past that is
  answered 429 and closed as it opens, before it costs anything else, so one client holding
  thousands of sockets cannot use up :data:`MAX_CONNECTIONS` for everyone. Addresses in
  ``DREAMGEN_TRUSTED_PROXIES`` are exempt (all the visitors behind a proxy share its address;
  the app's own per-client limits see their real ones). Slow request *bodies* are timed in
  :mod:`app.web.middleware.body_guard`.
* **Proxies**: uvicorn's own proxy-header handling is off, because it trusts
  ``X-Forwarded-For`` from 127.0.0.1 by default (anyone on the machine, or a proxy passing
  headers through, could pick their address and dodge the rate limit). The app trusts only
  ``DREAMGEN_TRUSTED_PROXIES`` (:func:`app.web.main.create_app`).
* **Shutdown**: on SIGTERM, open requests (event streams included) get
  :data:`GRACEFUL_SHUTDOWN_S` to finish; then the workers put their jobs back (a few seconds).
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from app.settings import Settings, get_settings
from app.web.limits import PerClientCount

HEADER_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 64 * 1024
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 2000
GRACEFUL_SHUTDOWN_S = 3
BUSY_PEER_RETRY_S = 5
_PEERS_LOCK = threading.Lock()
_PEERS: "PeerConnections | None" = None


class PeerConnections:
    """Open connections per client address, at most ``cap`` each (0: no limit), except for
    the trusted proxies (addresses or networks, comma-separated; ``*``: everyone)."""

    def __init__(self, cap: int, trusted_proxies: str) -> None:
        self.open = PerClientCount(cap)
        names = [n.strip() for n in trusted_proxies.split(",") if n.strip()]
        self._everyone = "*" in names
        self._trusted = [net for net in map(_network, names) if net is not None]

    def exempt(self, host: str) -> bool:
        if self._everyone:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self._trusted)

    def refusal(self) -> bytes:
        """The whole 429 answer for a connection past the limit."""
        body = (f"too many open connections from your address (the limit is "
                f"{self.open.cap}); close some, then try again\n").encode()
        return (b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: text/plain; charset=utf-8"
                b"\r\nconnection: close\r\nretry-after: %d\r\ncontent-length: %d\r\n\r\n"
                % (BUSY_PEER_RETRY_S, len(body))) + body


def _network(name: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(name, strict=False)
    except ValueError:          # a host name or a socket path: no address to exempt
        return None


def peer_connections() -> PeerConnections:
    """This server process's table (from its settings; made on the first connection)."""
    global _PEERS
    with _PEERS_LOCK:
        if _PEERS is None:
            settings = get_settings()
            _PEERS = PeerConnections(settings.max_connections_per_client,
                                     settings.trusted_proxies)
        return _PEERS


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for a request's headers to arrive and a cap
    on the connections one client address holds."""

    header_timeout_s = HEADER_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._counted_peer: str | None = None
        if self._admit_peer():
            self._arm_header_deadline()

    def _admit_peer(self) -> bool:
        """Count this connection against its address, or answer 429 and close it."""
        peers = peer_connections()
        host = self.client[0] if self.client else None
        if host is None or peers.exempt(host):
            return True
        if peers.open.acquire(host):
            self._counted_peer = host
            return True
        self.transport.write(peers.refusal())
        self.transport.close()
        return False

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
        if self._counted_peer is not None:
            peer_connections().open.release(self._counted_peer)
            self._counted_peer = None
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
