"""Generated requests against every JSON API operation (the event stream included: a
random id ends it at once): never a 5xx, always a documented status and shape (schemathesis reads the app's own OpenAPI document). Schema-valid uploads
are random bytes, not pictures, so their refusal is expected and not checked."""

from __future__ import annotations

from typing import Callable

import schemathesis
from schemathesis.checks import positive_data_acceptance
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from app.settings import Settings
from app.web.main import create_app

EXAMPLES = 40               # per operation: bounded, so CI time is too


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
                            "POST /api/jobs/{job_id}/versions"}
    assert all(count >= 1 for count in checked.values()), checked
