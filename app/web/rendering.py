"""Pages: rendering a template, and the addresses links are made from."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """``template`` rendered with ``context`` (the request is always in it)."""
    return request.app.state.templates.TemplateResponse(request, template, context,
                                                        status_code=status_code)


def base_url(request: Request, public_url: str) -> str:
    """Absolute origin for share cards: ``public_url`` when set, else the request's."""
    return (public_url or str(request.base_url)).rstrip("/")


def only_this_computer(base: str) -> bool:
    """Whether links made with ``base`` open on this computer only: a loopback name or
    address (the default ``127.0.0.1``, ``localhost``), or no address at all (``0.0.0.0``),
    so a phone or a friend given the link reaches nothing."""
    host = (urlsplit(base).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False                      # a name: the network may well know it
    return address.is_loopback or address.is_unspecified
