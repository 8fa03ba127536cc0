"""Pages answer an expected failure (the error hierarchy) with its message and status, never a 500."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from recognizer.api.errors import API_PREFIX
from recognizer.exceptions import DigitVisionError
from recognizer.views.errors import refusal_response


class PageErrorMiddleware:
    """A DigitVisionError a page view lets through becomes the error page; the API maps its own (its views
    answer before any middleware sees the exception)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DigitVisionError) or request.path.startswith(API_PREFIX):
            return None
        return refusal_response(request, exception)
