"""A bounded schemathesis run against the running local stack: requests generated from the OpenAPI
document (valid and invalid ones), authenticated with the operator token; no answer is a 500, and every
answer is one the document allows (status, media type, body schema). Deterministic: a fixed seed."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chalicelib.api.openapi import document
from infra.simulate import send_twilio
from tests.conftest import running_stack, stack_api, wait_until

# Methods a route lacks are tried too, but only those API Gateway routes (it refuses TRACE and QUERY itself).
CONFIG = schemathesis.Config.from_dict({"seed": 15, "phases": {"coverage": {
    "unexpected-methods": ["get", "put", "post", "delete", "patch", "options"]}}})
SCHEMA = schemathesis.openapi.from_dict(document(), config=CONFIG)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 15  # per route: about 300 requests in all over the 20 routes


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("fuzz")) as (state, _):
        # some data to read: a safety alert on a coach (a case), a compliment in a shop
        send_twilio(state, "+447700900008", "L8 a passenger is drunk and threatening", "+447700900555")
        send_twilio(state, "+33639980101", "OPERA vendeuse adorable, merci", "+33639980444")
        wait_until(lambda: stack_api(state, "/api/cases")["items"])
        yield state


@pytest.mark.stack
@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_generated_requests_never_get_a_500_and_every_answer_keeps_the_contract(case, stack):
    case.call_and_validate(base_url=stack["api_url"], checks=CHECKS,
                           headers={"Authorization": f"Bearer {stack['operator_token']}"}, timeout=30)
