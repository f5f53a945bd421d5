"""Domain errors to HTTP: a :class:`StyleTransferError` becomes a 4xx whose message is the
JSON ``detail`` under ``/api/`` and a readable page elsewhere."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from app.engine.errors import StyleTransferError, WeightsMissingError
from app.engine.options import describe_errors, field_name
from app.refusals import Refused


def status_for(exc: StyleTransferError) -> int:
    """422 for bad input, 409 when an engine's weights are missing, or the error's own."""
    if isinstance(exc, Refused):
        return exc.status_code
    return 409 if isinstance(exc, WeightsMissingError) else 422


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def style_transfer_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StyleTransferError)
    status = status_for(exc)
    headers = getattr(exc, "headers", None)
    if wants_json(request):
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"title": "That didn't work", "message": str(exc)},
        status_code=status, headers=headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """404/403 and friends: JSON under ``/api/``, a page elsewhere."""
    from starlette.exceptions import HTTPException

    assert isinstance(exc, HTTPException)
    if wants_json(request) or exc.status_code < 400:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))
    titles = {403: "Not yours", 404: "Not found"}
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"title": titles.get(exc.status_code, "Error"),
                                "message": str(exc.detail)}, status_code=exc.status_code)


NOT_FINITE = ("{field} was given NaN, Infinity or a number too large to store (such as "
              "1e400); send an ordinary number, or text where text is expected")


def is_not_finite(value: Any) -> bool:
    """Whether ``value`` holds NaN or an infinity anywhere (Python's JSON parser reads
    ``NaN``, ``Infinity`` and ``1e400`` as such floats; they cannot be sent back as JSON)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(is_not_finite(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_not_finite(v) for v in value)
    return False


def _not_finite_reason(errors: Any) -> str | None:
    """The plain refusal when a refused value is not a finite number, else None."""
    for error in errors:
        if is_not_finite(error.get("input")) or is_not_finite(error.get("ctx")):
            return NOT_FINITE.format(field=field_name(error.get("loc") or ()) or "a value")
    return None


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """FastAPI's field errors as one plain sentence ("style strength must be at most 1, not
    3"): the JSON ``detail`` under ``/api/``, a readable page elsewhere. A non-finite number
    is said so (echoing it back would not even be valid JSON)."""
    from fastapi.exceptions import RequestValidationError

    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    reason = _not_finite_reason(errors) or describe_errors(errors)
    if wants_json(request):
        return JSONResponse({"detail": reason}, status_code=422)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"title": "That didn't work", "message": reason},
        status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from app.web.middleware.request_ids import internal_error_handler

    app.add_exception_handler(Exception, internal_error_handler)
    app.add_exception_handler(StyleTransferError, style_transfer_error_handler)
    app.add_exception_handler(HTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
