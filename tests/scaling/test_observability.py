"""Seeing the workers and the queue: ``GET /metrics`` (parsed back by the rules of the
Prometheus text format), the queue fields of ``GET /healthz``, the workers on the admin page
and its JSON, and ``dreamgen workers``; all on a real SQLite file, rows written by the real
lease and queue functions."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.cli import main as cli
from app.db.clock import seconds_ago
from app.db.models import Job, WorkerRecord
from app.jobs import leases, queue
from app.jobs.leases import WorkerIdentity
from app.settings import Settings, get_settings
from app.web.main import create_app
from app.web.routes.metrics import escape_label, format_value
from tests.support.shared import shared_dir

TOKEN = "metrics-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ODD_HOST = 'rack "7"\\b'                      # a quote and a backslash to escape


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The app without workers of its own, on a fresh SQLite file, with an admin token."""
    settings = Settings(data_dir=tmp_path / "data", weights_dir=shared_dir("weights"),
                        weights_cache_dir=tmp_path / "cache", device="cpu", run_worker=False,
                        admin_token=TOKEN, min_free_disk_mb=1, lease_seconds=30)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def fill(client: TestClient) -> list[Job]:
    """Two workers (one stale), three queued jobs (the oldest 120 s old), one running, and
    three succeeded jobs of known run times."""
    engine, factory = client.app.state.db_engine, client.app.state.session_factory
    leases.register_workers(engine, [WorkerIdentity("h1-10-w0", "h1", 10, "cuda:0"),
                                     WorkerIdentity("h2-20-w0", ODD_HOST, 20, "cpu")])
    with queue.write_session(engine) as session:
        session.execute(update(WorkerRecord).where(WorkerRecord.id == "h2-20-w0")
                        .values(last_heartbeat=seconds_ago(300)))
        session.commit()
    fields = dict(owner_id="o", kind="image", engine="microast", options={},
                  content_path="uploads/c.png", style_paths=["uploads/s.png"])
    with factory() as session:
        jobs = [queue.enqueue_job(session, **fields) for _ in range(7)]
    for seconds, (width, height) in zip((0.5, 3.0, 40.0), ((64, 48), (300, 500), (300, 200))):
        claimed = queue.claim_next_job(engine, "h1-10-w0")
        queue.finish_job(engine, claimed.id, claimed.claim_token, result_path="results/r.png",
                         thumb_path=None, width=width, height=height)
        with queue.write_session(engine) as session:
            row = session.get(Job, claimed.id)
            row.started_at = row.finished_at - timedelta(seconds=seconds)
            session.commit()
    queue.claim_next_job(engine, "h1-10-w0")
    with queue.write_session(engine) as session:
        session.execute(update(Job).where(Job.id == jobs[4].id)
                        .values(created_at=seconds_ago(120)))
        session.commit()
    return jobs


# ----------------------------------------------------------------------------- the parser
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL},?)*)\}})? (\S+)$")
VALUE = re.compile(r"^(?:[+-]?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)|[+-]Inf|NaN)$")


def unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m[1], m[1]), value)


def parse_exposition(text: str) -> dict[str, dict]:
    """{family: {"type", "help", "samples": [(name, labels, value)]}}, failing on any line
    the text format does not allow: HELP and TYPE once each and before the samples, a
    family's samples together, names, label syntax and escapes, values."""
    assert text.endswith("\n")
    families: dict[str, dict] = {}
    current = None
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, name, rest = line[2:6], *line[7:].split(" ", 1)
            assert re.fullmatch(NAME, name), line
            family = families.setdefault(name, {"samples": []})
            assert kind.lower() not in family and not family["samples"], f"late {line}"
            family[kind.lower()] = rest
            current = name
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, label_text, value = match[1], match[2] or "", match[len(match.groups())]
        assert VALUE.match(value), line
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        family_name = name if name in families else base
        assert family_name == current, f"{name} outside its family's block"
        assert "type" in families[family_name] and "help" in families[family_name]
        labels = {k: unescape(v) for k, v in re.findall(LABEL, label_text)}
        families[family_name]["samples"].append((name, labels, float(value)))
    return families


def check_histogram(family: dict) -> dict[tuple, dict]:
    """Per label set: buckets ascending and cumulative, ``+Inf`` equal to ``_count``."""
    series: dict[tuple, dict] = {}
    for name, labels, value in family["samples"]:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        entry = series.setdefault(key, {"buckets": []})
        if name.endswith("_bucket"):
            entry["buckets"].append((float(labels["le"]), value))
        else:
            entry[name.rsplit("_", 1)[1]] = value
    for entry in series.values():
        bounds = [b for b, _ in entry["buckets"]]
        counts = [c for _, c in entry["buckets"]]
        assert bounds == sorted(bounds) and bounds[-1] == float("inf")
        assert counts == sorted(counts) and counts[-1] == entry["count"]
        assert "sum" in entry
    return series


# ----------------------------------------------------------------------------- tests
def test_metrics_parse_back_with_the_queue_the_histogram_and_the_workers(
        client: TestClient) -> None:
    fill(client)
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = parse_exposition(response.text)
    types = {name: f["type"] for name, f in families.items()}
    assert types == {"dreamgen_jobs": "gauge", "dreamgen_queue_depth": "gauge",
                     "dreamgen_queue_oldest_age_seconds": "gauge",
                     "dreamgen_job_duration_seconds": "histogram", "dreamgen_workers": "gauge",
                     "dreamgen_worker_heartbeat_age_seconds": "gauge"}
    by_state = {s[1]["state"]: s[2] for s in families["dreamgen_jobs"]["samples"]}
    assert by_state == {"queued": 3, "running": 1, "succeeded": 3, "failed": 0, "cancelled": 0}
    assert families["dreamgen_queue_depth"]["samples"][0][2] == 3
    assert 115 < families["dreamgen_queue_oldest_age_seconds"]["samples"][0][2] < 180
    series = check_histogram(families["dreamgen_job_duration_seconds"])
    small = series[(("engine", "microast"), ("size", "256"))]
    assert small["count"] == 1 and dict(small["buckets"])[1.0] == 1          # 0.5 s
    mid = series[(("engine", "microast"), ("size", "512"))]
    assert mid["count"] == 2 and abs(mid["sum"] - 43.0) < 0.01
    assert dict(mid["buckets"])[2.5] == 0 and dict(mid["buckets"])[5.0] == 1
    assert dict(mid["buckets"])[60.0] == 2
    workers = {s[1]["status"]: s[2] for s in families["dreamgen_workers"]["samples"]}
    assert workers == {"alive": 1, "stale": 1}
    ages = {s[1]["worker"]: s for s in families["dreamgen_worker_heartbeat_age_seconds"]
            ["samples"]}
    assert ages["h1-10-w0"][2] < 10 and ages["h1-10-w0"][1]["device"] == "cuda:0"
    assert 295 < ages["h2-20-w0"][2] < 360 and ages["h2-20-w0"][1]["host"] == ODD_HOST


def test_metrics_are_for_the_admin_token_holder(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 403
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and "wrong" in wrong.text


def test_label_escaping_and_values() -> None:
    assert escape_label('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert [format_value(v) for v in (3, 2.5, float("inf"), float("nan"))] == [
        "3", "2.5", "+Inf", "NaN"]


def test_healthz_reports_the_queue_depth_and_the_oldest_jobs_age(client: TestClient) -> None:
    empty = client.get("/healthz").json()
    assert empty["queue"] == {"depth": 0, "oldest_age_s": None}
    fill(client)
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["queue"]["depth"] == 3
    assert 115 < body["queue"]["oldest_age_s"] < 180


def test_admin_page_and_json_list_the_workers(client: TestClient) -> None:
    jobs = fill(client)
    page = client.get("/admin", headers=BEARER)
    assert page.status_code == 200
    section = page.text[page.text.index('id="admin-workers"'):]
    assert 'data-worker="h1-10-w0" data-alive="true"' in section
    assert 'data-worker="h2-20-w0" data-alive="false"' in section and "stale" in section
    assert f"/jobs/{jobs[3].public_id}" in section                 # what h1 runs now
    listed = client.get("/api/admin/workers", headers=BEARER).json()
    assert listed["lease_seconds"] == 30
    assert [(w["id"], w["alive"], w["job"]) for w in listed["workers"]] == [
        ("h1-10-w0", True, jobs[3].public_id), ("h2-20-w0", False, None)]
    assert client.get("/api/admin/workers").status_code == 403


def test_dreamgen_workers_lists_alive_and_stale_workers(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = fill(client)
    monkeypatch.setenv("DREAMGEN_DATA_DIR", str(client.app.state.settings.data_dir))
    monkeypatch.setenv("DREAMGEN_LEASE_SECONDS", "30")
    get_settings.cache_clear()
    try:
        table = CliRunner().invoke(cli, ["workers"])
        as_json = CliRunner().invoke(cli, ["workers", "--json"])
    finally:
        get_settings.cache_clear()
    assert table.exit_code == 0, table.output
    header, *rows = table.output.splitlines()
    assert header.split() == ["WORKER", "HOST", "PID", "DEVICE", "JOB", "HEARTBEAT", "STATUS"]
    assert rows[0].split()[:5] == ["h1-10-w0", "h1", "10", "cuda:0", jobs[3].public_id]
    assert rows[0].endswith("alive") and rows[1].endswith("stale") and "s ago" in rows[1]
    parsed = [json.loads(line) for line in as_json.output.splitlines()]
    assert [(w["id"], w["alive"]) for w in parsed] == [("h1-10-w0", True), ("h2-20-w0", False)]
    assert parsed[1]["host"] == ODD_HOST and parsed[1]["heartbeat_age_s"] >= 295


def test_dreamgen_workers_on_a_database_without_tables_says_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMGEN_DATA_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["workers"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "dreamgen worker" in result.output
