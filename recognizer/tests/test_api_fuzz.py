"""Schema-driven fuzzing (schemathesis): no request, valid or not, gets a 5xx or an answer the schema does not allow."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection

from digitvision_site.wsgi import application
from recognizer.tests.factories import NumberFactory, SubmissionFactory

pytestmark = pytest.mark.django_db(transaction=False)


CONFIG = SchemathesisConfig.from_dict(
    {
        # Valid-looking ids mostly name nothing (or someone else's prediction): 404 is the right answer to those;
        # a second training run while one is queued is a 409 by design.
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409"]}},
        # Generated credentials are never right, so a valid token request is refused (400) by design.
        # and no schema can say which strings are images, so a valid-looking image may rightly be refused (400).
        # A correction names exactly one answer, a digit or `not_a_digit: true`: a rule OpenAPI 3.0 cannot state
        # in a shape generated clients read, so a valid-looking body naming both, or neither, is rightly a 400.
        "operations": [
            {"include-path": "/api/v1/auth/token/", "checks": {"positive_data_acceptance": {"enabled": False}}},
            {
                "include-path": "/api/v1/predictions/",
                "include-method": "POST",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            {
                "include-path": "/api/v1/predictions/{id}/correction/",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            # The same for numbers: any image string, and a correction of one form (a number of 0-9 digits only,
            # or a position with its digit).
            {
                "include-path": "/api/v1/numbers/",
                "include-method": "POST",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            {
                "include-path": "/api/v1/numbers/{id}/correction/",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            {
                "include-path": "/api/v1/corrections/{id}/",
                "include-method": "PATCH",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            {
                "include-path": "/api/v1/staff/review/{id}/label/",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
        ],
    }
)
# Loaded from the app in-process at collection (pytest-django has set Django up by then); no server, no network.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/", application, config=CONFIG, headers={"Accept": "application/vnd.oai.openapi+json"}
)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Requests go straight to the WSGI app, whose request signals would close the test's database connection
    (and its transaction); Django's own test client switches them off the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(user, shipped_version, settings) -> dict:
    # Staff, so the staff-only endpoints (training runs, rollback) are fuzzed too; 403s are tested elsewhere.
    user.is_staff = True
    user.save()
    # Fuzzing sends hundreds of requests: throttling would answer most of them, and is tested on its own.
    settings.DIGITVISION_API_THROTTLE_RATES = {"user": None, "anon": None, "auth": None}
    # A few real predictions and numbers, so that ids the fuzzer picks sometimes exist.
    for _ in range(3):
        SubmissionFactory(user=user)
        NumberFactory(user=user)
    return {"Authorization": f"Token {Token.objects.create(user=user).key}"}


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, auth_headers):
    # Django's multipart parser drops some malformed or empty parts before the API sees them (an empty `source`
    # part after a header with a U+0085 in a field name, for one), so a schema-violating multipart body can arrive
    # valid; every other check, 5xx included, still applies to multipart bodies.
    multipart = (case.media_type or "").startswith("multipart/")
    case.call_and_validate(headers=auth_headers, excluded_checks=[negative_data_rejection] if multipart else [])
