"""Server-rendered pages and the small JSON endpoints the page script calls; every write goes through services."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recognizer.api.errors import UNAVAILABLE_ERRORS
from recognizer.exceptions import ModelWeightsError, NoActiveModelVersionError, SubmissionError
from recognizer.forms import (
    ACCEPTED_IMAGE_TYPES,
    AccountDeleteForm,
    CorrectionForm,
    HistoryFilterForm,
    SignUpForm,
    UploadForm,
)
from recognizer.image_responses import private_file_response, private_preview_response
from recognizer.models import Submission
from recognizer.selectors import submission_get_for_user, submission_get_visible_to, submission_list_for_user
from recognizer.services import account_delete, submission_correct, submission_create, submission_delete

logger = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 24

# HTTP status for each SubmissionError code.
_ERROR_STATUS = {"too_large": 413, "invalid_image": 400, "no_digit": 422}
_ERROR_MESSAGES = {"no_digit": "No digit found: draw or upload a single, clearly visible digit."}


def _error_json(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def submission_json(request: HttpRequest, submission: Submission) -> dict:
    """What the page script needs to show a result and correct it."""
    return {
        "id": submission.pk,
        "digit": submission.predicted_digit,
        "confidence": submission.confidence,
        "probabilities": submission.probabilities,
        "model_version": submission.model_version.name,
        "source": submission.source,
        "created_at": submission.created_at.isoformat(),
        "corrected_digit": submission.corrected_digit,
        "image_url": reverse("recognizer:submission-image", args=[submission.pk]),
        "input_image_url": reverse("recognizer:submission-input", args=[submission.pk]),
        "detail_url": reverse("recognizer:submission-detail", args=[submission.pk]),
        "correct_url": reverse("recognizer:submission-correct", args=[submission.pk]),
    }


def _percent(p: float) -> str:
    return f"{p * 100:.1f}%"


def result_panel_context(submission: Submission | None = None) -> dict:
    """Context of templates/recognizer/_result_panel.html: filled for a submission, else empty for the script."""
    probabilities = submission.probabilities if submission else [0.0] * 10
    top = submission.predicted_digit if submission else None
    return {
        "submission": submission,
        "confidence_text": _percent(submission.confidence) if submission else "",
        "prob_rows": [
            {"digit": d, "text": _percent(p) if submission else "", "width": f"{p * 100:.2f}%", "top": d == top}
            for d, p in enumerate(probabilities)
        ],
        "digits": range(10),
    }


def _page_context(**extra) -> dict:
    return {
        "max_upload_bytes": settings.DIGITVISION_MAX_UPLOAD_BYTES,
        "accept": ACCEPTED_IMAGE_TYPES,
        **result_panel_context(),
        **extra,
    }


def _create(
    request: HttpRequest, image_bytes: bytes, source: str, replaces: Submission | None = None
) -> tuple[Submission | None, str, str]:
    """Run the service; returns (submission, "", "") or (None, error code, message)."""
    try:
        submission = submission_create(user=request.user, image_bytes=image_bytes, source=source, replaces=replaces)
        return submission, "", ""
    except SubmissionError as exc:
        return None, exc.code, _ERROR_MESSAGES.get(exc.code, str(exc))
    except (NoActiveModelVersionError, ModelWeightsError):
        logger.exception("no model can serve predictions")
        return None, "unavailable", "The recognizer is not available right now; please try again later."


# --------------------------------------------------------------------------- accounts


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def account_delete_view(request: HttpRequest) -> HttpResponse:
    """Delete the signed-in person's account and all they sent, after they give their password again."""
    form = AccountDeleteForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        count = account_delete(user=request.user)
        logout(request)
        messages.success(request, f"Your account and its {count} submission{pluralize(count)} have been deleted.")
        return redirect("login")
    context = {"form": form, "submission_count": request.user.submissions.count()}
    return render(request, "registration/account_delete.html", context)


# --------------------------------------------------------------------------- pages


@login_required
@require_GET
def draw(request: HttpRequest) -> HttpResponse:
    return render(request, "recognizer/draw.html", _page_context(active="draw"))


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """The upload page; its form also works without JavaScript (POST, then redirect to the result)."""
    form = UploadForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            submission, code, message = _create(request, form.cleaned_data["image"].read(), Submission.Source.UPLOAD)
            if submission is not None:
                return redirect("recognizer:submission-detail", pk=submission.pk)
            form.add_error("image", message)
            status = _ERROR_STATUS.get(code, 503)
        else:
            status = 413 if form.has_error("image", "too_large") else 400
    return render(request, "recognizer/upload.html", _page_context(active="upload", form=form), status=status)


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    filter_form = HistoryFilterForm(request.GET)
    submissions = submission_list_for_user(user=request.user, **filter_form.filters())
    page = Paginator(submissions, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "recognizer/history.html", {"active": "history", "filter_form": filter_form, "page_obj": page}
    )


def _own_submission_or_404(request: HttpRequest, pk: int) -> Submission:
    """Another person's submission is a 404, never a 403 that would reveal it exists."""
    try:
        return submission_get_for_user(user=request.user, submission_id=pk)
    except Submission.DoesNotExist as exc:
        raise Http404("No such submission.") from exc


@login_required
@require_GET
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _own_submission_or_404(request, pk)
    return render(request, "recognizer/detail.html", {"active": "history", **result_panel_context(submission)})


@login_required
@require_http_methods(["GET", "POST"])
def submission_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks to confirm (no script needed); POST deletes the submission and its images for good."""
    submission = _own_submission_or_404(request, pk)
    if request.method == "POST":
        submission_delete(submission=submission)
        messages.success(request, f"Submission #{pk} has been deleted.")
        return redirect("recognizer:history")
    return render(request, "recognizer/delete.html", {"active": "history", "submission": submission})


def _visible_submission_or_404(request: HttpRequest, pk: int) -> Submission:
    """The person's own submission, or any for staff; otherwise a 404."""
    try:
        return submission_get_visible_to(user=request.user, submission_id=pk)
    except Submission.DoesNotExist as exc:
        raise Http404("No such submission.") from exc


@login_required
@require_GET
def submission_image(request: HttpRequest, pk: int) -> FileResponse:
    return private_file_response(_visible_submission_or_404(request, pk).image)


@login_required
@require_GET
def submission_preview(request: HttpRequest, pk: int) -> FileResponse:
    return private_preview_response(_visible_submission_or_404(request, pk))


@login_required
@require_GET
def submission_input(request: HttpRequest, pk: int) -> FileResponse:
    return private_file_response(_visible_submission_or_404(request, pk).input_image)


# --------------------------------------------------------------------------- JSON endpoints


@login_required
@require_POST
def predict(request: HttpRequest) -> JsonResponse:
    """POST multipart ``image`` (and ``source``: canvas or upload) -> 201 with the stored submission."""
    source = request.POST.get("source", Submission.Source.CANVAS)
    if source not in (Submission.Source.CANVAS, Submission.Source.UPLOAD):
        return _error_json("invalid_source", "source must be canvas or upload", 400)
    image = request.FILES.get("image")
    if image is None:
        return _error_json("invalid_image", "Send the image in the multipart field 'image'.", 400)
    limit = settings.DIGITVISION_MAX_UPLOAD_BYTES
    if image.size > limit:
        # Refused before it is read into memory.
        return _error_json("too_large", f"The file is too large ({image.size:,} bytes; limit {limit:,}).", 413)
    replaces = _replaceable(request)
    submission, code, message = _create(request, image.read(), source, replaces)
    if submission is None:
        return _error_json(code, message, _ERROR_STATUS.get(code, 503))
    return JsonResponse(submission_json(request, submission), status=201)


def _replaceable(request: HttpRequest) -> Submission | None:
    """The earlier prediction of the same drawing named by ``replaces``, if it is still the person's to replace."""
    try:
        previous = submission_get_for_user(user=request.user, submission_id=int(request.POST["replaces"]))
    except (KeyError, ValueError, Submission.DoesNotExist):
        return None
    return None if previous.is_corrected else previous


@login_required
@require_POST
def submission_correct_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm or correct a prediction; JSON for the page script, a redirect for a plain form."""
    submission = _own_submission_or_404(request, pk)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        if _wants_json(request):
            return _error_json("invalid_digit", "Choose a digit from 0 to 9.", 400)
        return HttpResponse("Choose a digit from 0 to 9.", status=400, content_type="text/plain")
    submission = submission_correct(submission=submission, user=request.user, digit=form.cleaned_data["digit"])
    if _wants_json(request):
        return JsonResponse(submission_json(request, submission))
    return redirect("recognizer:submission-detail", pk=submission.pk)


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Readiness, for load balancers and the benchmarks: 200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except UNAVAILABLE_ERRORS:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})
