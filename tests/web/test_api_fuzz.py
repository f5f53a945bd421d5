"""Generated requests against every JSON API operation (the event stream included: a
random id ends it at once): never a 5xx, always a documented status and shape (schemathesis reads the app's own OpenAPI document). Schema-valid uploads
are random bytes, not pictures, so their refusal is expected and not checked."""

from __future__ import annotations

import logging
from typing import Callable

import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from app.settings import Settings
from app.web.main import create_app

EXAMPLES = 40               # per operation: bounded, so CI time is too
# accounts, profiles, likes, comments, reports, collections, allowances
COMMUNITY_OPERATIONS = {
    "POST /api/auth/signup", "POST /api/auth/signin", "POST /api/auth/signout",
    "GET /api/auth/me", "POST /api/auth/reset", "GET /api/me/allowance",
    "PATCH /api/account/profile", "PUT /api/account/avatar", "DELETE /api/account/avatar",
    "POST /api/account/password", "POST /api/account/delete", "GET /api/account/export",
    "GET /api/users/{name}", "GET /api/users/{name}/results",
    "GET /api/users/{name}/collections", "POST /api/users/{name}/follow",
    "DELETE /api/users/{name}/follow", "GET /api/jobs/{job_id}/likes",
    "POST /api/jobs/{job_id}/likes", "DELETE /api/jobs/{job_id}/likes",
    "GET /api/jobs/{job_id}/comments", "POST /api/jobs/{job_id}/comments",
    "DELETE /api/comments/{comment_id}", "POST /api/jobs/{job_id}/reports",
    "POST /api/comments/{comment_id}/reports", "GET /api/collections", "POST /api/collections",
    "GET /api/collections/shared/{token}", "GET /api/collections/{collection_id}",
    "PATCH /api/collections/{collection_id}", "DELETE /api/collections/{collection_id}",
    "POST /api/collections/{collection_id}/items",
    "DELETE /api/collections/{collection_id}/items/{job_id}", "POST /api/jobs/cost"}

# many photos at once (tests/batches/)
BATCH_OPERATIONS = {"POST /api/batches", "GET /api/batches/{batch_id}",
                    "GET /api/batches/{batch_id}/events", "GET /api/batches/{batch_id}/download",
                    "POST /api/batches/{batch_id}/retry"}
DERIVED_OPERATIONS = {"POST /api/jobs/{job_id}/enhance", "POST /api/jobs/{job_id}/deeper"}
MODEL_OPERATIONS = {"POST /api/train", "GET /api/models", "POST /api/models",
                    "GET /api/models/{model_id}", "PATCH /api/models/{model_id}",
                    "DELETE /api/models/{model_id}"}


@pytest.mark.slow   # several seconds on a 2-core CPU: not in the fast tier
def test_api_never_fails_with_a_server_error(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(run_worker=False, rate_limit_per_minute=0))
    with TestClient(app):      # runs the lifespan: database, media folder
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        checked: dict[str, int] = {}
        for result in schema.get_all_operations():
            operation = result.ok()
            name = f"{operation.method.upper()} {operation.path}"
            checked[name] = 0

            def validate(case: schemathesis.Case) -> None:
                checked[case.operation.method.upper() + " " + case.operation.path] += 1
                case.call_and_validate(excluded_checks=[positive_data_acceptance])

            given(case=operation.as_strategy())(settings(
                max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))(validate))()
    print(f"schemathesis: {sum(checked.values())} examples over {len(checked)} operations: "
          f"{checked}")
    assert set(checked) == {"POST /api/jobs", "GET /api/jobs/{job_id}",
                            "DELETE /api/jobs/{job_id}", "GET /api/jobs/{job_id}/events",
                            "POST /api/jobs/{job_id}/cancel", "GET /api/gallery",
                            "GET /api/engines", "GET /api/styles",   # the style library
                            # My results, retry, delete with undo, details, strength
                            "GET /api/me/jobs", "POST /api/jobs/{job_id}/retry",
                            "POST /api/jobs/{job_id}/trash", "POST /api/jobs/{job_id}/restore",
                            "PATCH /api/jobs/{job_id}",
                            "GET /api/jobs/{job_id}/strength-preview",
                            "POST /api/jobs/{job_id}/versions"} | COMMUNITY_OPERATIONS \
        | BATCH_OPERATIONS | DERIVED_OPERATIONS | MODEL_OPERATIONS
    assert all(count >= 1 for count in checked.values()), checked


NOT_FINITE_BODIES = ('{"title": NaN}', '{"show_original": Infinity}', '{"alpha": 1e400}',
                     '{"alpha": -Infinity}', '{"hidden": NaN}', '{"engine": [NaN]}',
                     '{"folder": {"a": 1e400}}')
JSON_BODY_OPERATIONS = (("PATCH", "/api/jobs/x"), ("POST", "/api/jobs/x/versions"),
                        ("POST", "/api/admin/downloads"), ("POST", "/api/admin/import"),
                        ("POST", "/api/admin/jobs/x/hide"), ("PATCH", "/api/admin/styles/1"))


def test_nan_infinity_and_1e400_in_a_json_body_are_a_plain_422(
        make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    """Python's JSON parser reads NaN, Infinity and 1e400 as floats that cannot be sent back
    as JSON: echoing them in FastAPI's field errors was a 500 with a long traceback."""
    app = create_app(make_settings(run_worker=False, admin_token="t" * 24))
    with TestClient(app, raise_server_exceptions=False) as client:
        caplog.clear()
        refused = set()
        for method, path in JSON_BODY_OPERATIONS:
            for body in NOT_FINITE_BODIES:
                response = client.request(method, path, content=body, headers={
                    "content-type": "application/json", "authorization": "Bearer " + "t" * 24})
                if response.status_code == 404:       # the body was fine for this route
                    continue
                assert response.status_code == 422, (method, path, body, response.text)
                detail = response.json()["detail"]
                assert isinstance(detail, str) and "NaN, Infinity" in detail, detail
                assert "alpha" not in detail          # the field in plain words
                refused.add(path)
    assert refused == {path for _, path in JSON_BODY_OPERATIONS}
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == [], [r.getMessage() for r in errors]
