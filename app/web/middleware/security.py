"""Browser-facing protections on every response and every state-changing request.

* Security headers: a Content-Security-Policy that allows only our own scripts and styles (no
  inline script), ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` against framing,
  ``nosniff``, and a Referrer-Policy. A response that sets its own CSP (media files:
  ``default-src 'none'``) keeps it.
* Cross-site request forgery: a POST, PUT, PATCH or DELETE that a browser sends from another
  site is refused with 403 before it reaches a route. Browsers say where a request comes from
  in ``Sec-Fetch-Site`` (every current browser) or, failing that, ``Origin``; a request with
  neither is not from a browser (curl, scripts) and carries no ambient cookie risk. This is the
  check Go's ``http.CrossOriginProtection`` makes, and it covers the HTML forms and the
  cookie-authenticated JSON API alike, multipart included.

Plain ASGI middleware, so streamed responses (server-sent events) pass untouched.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from app.web.middleware.asgi import HTTPMiddleware, editing_headers

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
       # server-computed sizes only (progress width, aspect ratio); never a <style> element
       "style-src-attr 'unsafe-inline'; "
       "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff",
           "referrer-policy": "same-origin", "cross-origin-opener-policy": "same-origin"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
CROSS_SITE_MESSAGE = ("this request came from another site; send it from the dreamgen page "
                      "itself")


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def is_cross_site(scope: Scope, public_url: str) -> bool:
    """True when a browser sent this request from a page of another origin."""
    headers = Headers(scope=scope)
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False                      # not a browser, or one too old to say
    host = headers.get("host", "")
    allowed = {f"http://{host}".lower(), f"https://{host}".lower()}
    if public_url:
        allowed.add(_origin_of(public_url))
    return origin.lower() not in allowed


class SecurityMiddleware(HTTPMiddleware):
    """Refuse cross-site state changes (403) and add the security headers to every response."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        def add_headers(headers: MutableHeaders) -> None:
            headers.setdefault("content-security-policy", CSP)   # /docs too: no CDN, no script
            for name, value in HEADERS.items():
                headers.setdefault(name, value)

        send = editing_headers(send, add_headers)
        public_url = scope["app"].state.settings.public_url
        if scope["method"] not in SAFE_METHODS and is_cross_site(scope, public_url):
            response = JSONResponse({"detail": CROSS_SITE_MESSAGE}, status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
