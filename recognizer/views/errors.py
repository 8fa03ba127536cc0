"""The pages' one translation of the error hierarchy into a response: the error's message, under its status."""

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from recognizer.exceptions import DigitVisionError

logger = logging.getLogger(__name__)

ERROR_TEMPLATE = "recognizer/error.html"


def refusal_response(
    request: HttpRequest, exc: DigitVisionError, template: str = ERROR_TEMPLATE, context: dict | None = None
) -> HttpResponse:
    """``template`` rendered with ``error`` (the exception) under ``exc.status``; a page that can show the error
    beside its own form passes itself, anything else gets the plain error page (see PageErrorMiddleware)."""
    if exc.status >= 500:
        logger.warning("page %s answered %s %s: %s", request.path, exc.status, exc.code, exc)
    return render(request, template, {**(context or {}), "error": exc}, status=exc.status)
