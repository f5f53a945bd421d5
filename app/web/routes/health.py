"""``GET /healthz``: whether this process can serve and run jobs (for load balancers and
container health checks), with the queue's depth and its oldest job's age.

Its database check runs on two threads of its own, never on the thread pool the routes
share: a crowd that fills that pool must not make a healthy server look dead."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.jobs.stats import QueueSummary, queue_summary

router = APIRouter(include_in_schema=False)
DB_CHECK_TIMEOUT_S = 3.0
_CHECKS = ThreadPoolExecutor(2, thread_name_prefix="dreamgen-health")


def _ping(request: Request) -> QueueSummary:
    with Session(request.app.state.db_engine) as session:
        session.execute(text("SELECT 1"))
        return queue_summary(session)


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and every worker thread of this process is alive, else
    503; the body says which part is unwell, and ``queue`` has ``depth`` (queued jobs) and
    ``oldest_age_s`` (seconds the oldest has waited, null when none; the database's clock).
    A long queue is not unhealthy: it says when to add workers."""
    checks: dict[str, object] = {}
    healthy = True
    try:
        ping = asyncio.get_running_loop().run_in_executor(_CHECKS, _ping, request)
        summary = await asyncio.wait_for(ping, DB_CHECK_TIMEOUT_S)
        checks["database"] = "ok"
        checks["queue"] = asdict(summary)
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        healthy = False
        checks["database"] = f"not answering ({type(exc).__name__})"
        checks["queue"] = "unknown"
    pool = request.app.state.workers
    if pool is not None and request.app.state.settings.run_worker:
        alive, expected = pool.alive()
        checks["workers"] = {"alive": alive, "expected": expected, "restarts": pool.restarts}
        healthy = healthy and alive == expected and expected > 0
    else:
        checks["workers"] = "not run in this process"
    return JSONResponse({"status": "ok" if healthy else "unhealthy", **checks},
                        status_code=200 if healthy else 503)
