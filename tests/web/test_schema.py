"""Property tests of the published OpenAPI document with schemathesis: no 5xx, no
response that breaks the schema, for every operation of ``/api/v1``.

Driven through hypothesis directly (one ``@given`` per operation) rather than through
schemathesis' pytest plugin, which does not load under pytest 9.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from abusedesk.context import Context
from abusedesk.users.service import create_token
from abusedesk.web.app import create_app
from tests.helpers import load_inventory

schemathesis = pytest.importorskip("schemathesis")


def test_api_conforms_to_its_schema(ctx: Context, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the API's schema does not depend on the database; SQLite is enough")
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    load_inventory(ctx)
    with ctx.transaction() as session:
        token, _ = create_token(session, name="schemathesis", actor="test")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(ctx, background=False))
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance, status_code_conformance])

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}")
    assert operations >= 5
    assert not failures, "\n\n".join(failures)
