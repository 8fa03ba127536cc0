"""One error shape for the whole API: {"error": {"code", "message", "details"}} with the right HTTP status."""

import logging
import sys

from axes.helpers import get_cool_off
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from recognizer.exceptions import DigitVisionError

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


class ApiError(exceptions.APIException):
    """An API-only error with its own code and status (e.g. a request body over Django's cap); anything the
    services refuse is a DigitVisionError, which carries its code and status itself."""

    def __init__(self, *, code: str, message: str, status_code: int, details: dict | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.details = details or {}


class LockedOut(exceptions.Throttled):
    """429 locked_out: django-axes locked this username out from this address after repeated failures (the
    sign-in page answers 429 too); Retry-After and details.retry_after say when the cool-off ends."""

    default_detail = "Too many failed sign-ins for this username from your address; the account is locked."
    default_code = "locked_out"

    def __init__(self, request: HttpRequest) -> None:
        # Each refused attempt starts the cool-off again (axes' default), so it ends a full cool-off from now.
        cool_off = get_cool_off(request)
        super().__init__(wait=cool_off.total_seconds() if cool_off else None)


def error_body(code: str, message: str, details: dict | list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _message_and_details(exc: exceptions.APIException) -> tuple[str, dict | list]:
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        # Field errors keep their structure in details; the message names the fields for humans.
        if isinstance(detail, dict):
            fields = ", ".join(str(name) for name in detail)
            return f"Invalid input: {fields}.", detail
        return "Invalid input: " + " ".join(str(d) for d in detail), {"non_field_errors": detail}
    if isinstance(exc, exceptions.Throttled):
        return str(detail), {"retry_after": exc.wait}
    return str(detail), {}


def _code_of(exc: exceptions.APIException) -> str:
    if isinstance(exc, ApiError):
        return exc.error_code
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    return exc.default_code


def digitvision_error_response(exc: DigitVisionError) -> Response:
    """The API's one translation of the error hierarchy: its status, code, message and details."""
    if exc.status >= 500:
        logger.warning("answered %s %s: %s", exc.status, exc.code, exc)
    return Response(error_body(exc.code, str(exc), exc.details), status=exc.status)


def exception_handler(exc: Exception, context: dict):
    """DRF's handler, then the response body rewritten into the API's one error shape."""
    if isinstance(exc, DigitVisionError):
        set_rollback()  # as DRF does for its own errors, under ATOMIC_REQUESTS too
        return digitvision_error_response(exc)
    if isinstance(exc, RequestDataTooBig):
        exc = ApiError(code="request_too_large", message=str(exc), status_code=413)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django logs it and answers 500 through handler500 below
    if isinstance(exc, exceptions.APIException):
        message, details = _message_and_details(exc)
        if isinstance(exc, ApiError):
            details = exc.details
        response.data = error_body(_code_of(exc), message, details)
    else:  # Http404 / PermissionDenied, already turned into NotFound / PermissionDenied data by DRF
        code = "not_found" if response.status_code == 404 else "permission_denied"
        response.data = error_body(code, str(response.data.get("detail", "")))
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    """handler404: JSON in the API's shape for /api/ URLs, the usual page elsewhere."""
    if _is_api(request):
        return JsonResponse(error_body("not_found", "No such API endpoint or object."), status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    """handler400 (e.g. a malformed multipart body, a body over Django's cap, a disallowed host)."""
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse(error_body("request_too_large", str(exception)), status=413)
        return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)
    return defaults.bad_request(request, exception)


@csrf_exempt  # also mounted as the catch-all /api/ route, where a DELETE must still get a 404, not a CSRF page
def not_found_route(request: HttpRequest, *args, **kwargs) -> JsonResponse:
    return not_found(request, None)


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """CSRF_FAILURE_VIEW: a session-authenticated API write without its CSRF token."""
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", f"CSRF check failed: {reason}"), status=403)
    return csrf.csrf_failure(request, reason)


# An unexpected error caused by an unreachable database (restarting, overloaded, network cut) is the service
# being briefly unavailable, not a bug: 503 with Retry-After, so clients and load balancers retry.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def _service_unavailable(request: HttpRequest) -> HttpResponse:
    message = "The service is briefly unavailable (its database cannot be reached); please retry shortly."
    if _is_api(request) or "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse(error_body("service_unavailable", message), status=503)
    else:
        # A page of its own that needs no database (base.html would look up the signed-in person).
        response = HttpResponse(loader.render_to_string("503.html", {"message": message}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: never a stack trace, and for the API the same error shape; 503 when the database is down."""
    if isinstance(sys.exc_info()[1], UNAVAILABLE_ERRORS):
        return _service_unavailable(request)
    if _is_api(request):
        # The id the log line carries (and the X-Request-ID header): what a person quotes when reporting it.
        request_id = getattr(request, "request_id", None)
        details = {"request_id": request_id} if request_id else None
        body = error_body("server_error", "Something went wrong on our side; it has been logged.", details)
        return JsonResponse(body, status=500)
    return defaults.server_error(request)
