"""``GET /metrics``: the queue and the workers in the Prometheus text exposition format
(version 0.0.4), written by hand: a few gauges and one histogram need no client library.

What is exported (all read from the shared database, so any web process tells the same):

- ``dreamgen_jobs{state}``: jobs by state; ``dreamgen_queue_depth``: queued jobs;
  ``dreamgen_queue_oldest_age_seconds``: how long the oldest queued job has waited (0 when
  none);
- ``dreamgen_job_duration_seconds{engine,size}``: a histogram of the run time (claim to
  finish of the run that succeeded) of every succeeded job still in the database, all time,
  ``size`` being the output's longer side class (``256``, ``512``, ... ``4096``,
  ``larger``); deleting jobs lowers it, which Prometheus reads as a counter reset;
- ``dreamgen_workers{status}``: worker rows alive or stale (no heartbeat for a lease);
  ``dreamgen_worker_heartbeat_age_seconds{worker,host,device}``: per worker.

Who may read it: the same people as the admin page (:mod:`app.web.admin_access`), the holders
of the admin token; a scraper sends ``Authorization: Bearer <token>``. No user data is in it,
but host names and load are worth keeping in.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.orm import Session

from app.jobs.leases import WorkerStatus, list_workers
from app.jobs.stats import (
    DURATION_BUCKETS_S,
    DurationHistogram,
    QueueSummary,
    duration_histograms,
    jobs_by_state,
    queue_summary,
)
from app.web.access import admin_state
from app.web.admin_access import admin_refusal

router = APIRouter(include_in_schema=False)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def escape_label(value: str) -> str:
    """A label value as the format wants it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value: integers without a point, ``+Inf``/``-Inf``/``NaN`` spelled so."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Exposition:
    """Lines of one exposition: each family's ``# HELP`` and ``# TYPE``, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        escaped = help_text.replace("\\", "\\\\").replace("\n", "\\n")
        self.lines += [f"# HELP {name} {escaped}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float, **labels: str) -> None:
        inner = ",".join(f'{key}="{escape_label(str(v))}"' for key, v in labels.items())
        self.lines.append(f"{name}{{{inner}}} {format_value(value)}" if inner
                          else f"{name} {format_value(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def add_histogram(out: Exposition, name: str, histograms: list[DurationHistogram]) -> None:
    """Buckets (cumulative, ``le`` ascending, ending with ``+Inf`` = count), sum and count."""
    for h in histograms:
        labels = {"engine": h.engine, "size": h.size}
        for bound, count in zip(DURATION_BUCKETS_S, h.cumulative):
            out.sample(f"{name}_bucket", count, **labels, le=repr(float(bound)))   # "1.0"
        out.sample(f"{name}_bucket", h.count, **labels, le="+Inf")
        out.sample(f"{name}_sum", h.sum_s, **labels)
        out.sample(f"{name}_count", h.count, **labels)


def render_metrics(states: dict[str, int], queue: QueueSummary,
                   histograms: list[DurationHistogram], workers: list[WorkerStatus]) -> str:
    """The whole exposition text."""
    out = Exposition()
    out.family("dreamgen_jobs", "gauge", "Jobs in the database by state.")
    for state, count in states.items():
        out.sample("dreamgen_jobs", count, state=state)
    out.family("dreamgen_queue_depth", "gauge", "Jobs waiting in the queue.")
    out.sample("dreamgen_queue_depth", queue.depth)
    out.family("dreamgen_queue_oldest_age_seconds", "gauge",
               "Seconds the oldest queued job has waited (0 when the queue is empty).")
    out.sample("dreamgen_queue_oldest_age_seconds", queue.oldest_age_s or 0.0)
    out.family("dreamgen_job_duration_seconds", "histogram",
               "Run time of succeeded jobs (claim to finish), all time, by engine and output "
               "size class (longer side, px).")
    add_histogram(out, "dreamgen_job_duration_seconds", histograms)
    out.family("dreamgen_workers", "gauge",
               "Worker rows by status: alive, or stale (no heartbeat for a lease).")
    for status in ("alive", "stale"):
        out.sample("dreamgen_workers", sum(w.alive == (status == "alive") for w in workers),
                   status=status)
    out.family("dreamgen_worker_heartbeat_age_seconds", "gauge",
               "Seconds since each worker's last heartbeat (the database's clock).")
    for w in workers:
        out.sample("dreamgen_worker_heartbeat_age_seconds", round(w.heartbeat_age_s, 3),
                   worker=w.id, host=w.host, device=w.device)
    return out.text()


def collect(request: Request) -> str:
    """Read everything from the database and render it."""
    with Session(request.app.state.db_engine) as session:
        return render_metrics(jobs_by_state(session), queue_summary(session),
                              duration_histograms(session),
                              list_workers(session, request.app.state.settings.lease_seconds))


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """The exposition for Prometheus; 403 (with the reason) for whom the admin page refuses."""
    reason = admin_refusal(request, admin_state(request).key)
    if reason is not None:
        return PlainTextResponse(reason, status_code=403)
    return Response(collect(request), media_type=CONTENT_TYPE)
