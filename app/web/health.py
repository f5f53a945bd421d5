"""``GET /healthz``: whether this process can serve and run jobs (for load balancers and
container health checks)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter(include_in_schema=False)
DB_CHECK_TIMEOUT_S = 3.0


def _ping(request: Request) -> None:
    with request.app.state.db_engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and every worker thread of this process is alive, else
    503; the body says which part is unwell."""
    checks: dict[str, object] = {}
    healthy = True
    try:
        await asyncio.wait_for(asyncio.to_thread(_ping, request), DB_CHECK_TIMEOUT_S)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        healthy = False
        checks["database"] = f"not answering ({type(exc).__name__})"
    pool = request.app.state.workers
    if pool is not None and request.app.state.settings.run_worker:
        alive, expected = pool.alive()
        checks["workers"] = {"alive": alive, "expected": expected, "restarts": pool.restarts}
        healthy = healthy and alive == expected and expected > 0
    else:
        checks["workers"] = "not run in this process"
    return JSONResponse({"status": "ok" if healthy else "unhealthy", **checks},
                        status_code=200 if healthy else 503)
