"""The people's pages: draw, upload, history, a submission's detail, correction, deletion and images."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ml.refusal import NOT_A_DIGIT, SEVERAL_DIGITS
from recognizer.exceptions import DigitVisionError, InvalidCorrectionError
from recognizer.forms import ACCEPTED_IMAGE_TYPES, HistoryFilterForm, TrueAnswerForm, UploadForm
from recognizer.image_responses import private_file_response, private_preview_response
from recognizer.models import Submission
from recognizer.request_images import read_uploaded_file
from recognizer.selectors import submission_get_for_user, submission_get_visible_to, submission_list_for_user
from recognizer.services import submission_correct, submission_create, submission_delete
from recognizer.templatetags.digitvision import percent
from recognizer.views.errors import refusal_response

# What the panel says under "This doesn't look like a single digit", by the predictor's reason (ml.refusal).
REFUSAL_REASONS = {
    NOT_A_DIGIT: "It may be a letter, a shape or a scribble. Try one digit, 0–9.",
    SEVERAL_DIGITS: "It looks like several digits.",
}

HISTORY_PAGE_SIZE = 24


def result_panel_context(submission: Submission | None = None) -> dict:
    """Context of templates/recognizer/_result_panel.html: filled for a submission, else empty for the script."""
    probabilities = submission.probabilities if submission else [0.0] * 10
    refused = bool(submission and submission.not_a_digit)
    top = submission.predicted_digit if submission and not refused else None
    closest = submission.closest_digit if submission else None
    closest_percent = percent(submission.closest_probability) if submission else ""
    return {
        "submission": submission,
        "refused": refused,
        "reason_rows": _reason_rows(submission.refusal_reason if refused else NOT_A_DIGIT),
        "several_digits": refused and submission.refusal_reason == SEVERAL_DIGITS,
        "closest_digit": closest,
        "closest_percent": closest_percent,
        # static/recognizer/result_panel.js writes the same.
        "closest_text": f"closest digit: {closest}, {closest_percent}" if refused else "",
        "confidence_text": percent(submission.confidence) if submission else "",
        "prob_rows": [
            {"digit": d, "text": percent(p) if submission else "", "width": f"{p * 100:.2f}%", "top": d == top}
            for d, p in enumerate(probabilities)
        ],
        "digits": range(10),
        **_correction_context(submission),
    }


def _reason_rows(reason: str) -> list[dict]:
    """Every reason's sentence, the one given shown (an unknown one reads as plain "not a digit"): the page
    script shows the one of each answer it gets."""
    known = reason if reason in REFUSAL_REASONS else NOT_A_DIGIT
    return [{"reason": r, "text": text, "shown": r == known} for r, text in REFUSAL_REASONS.items()]


def _correction_context(submission: Submission | None) -> dict:
    """Which correction button is pressed and what the panel says of the correction, whatever the model said;
    static/recognizer/result_panel.js's showCorrection says the same."""
    if submission is None or not submission.is_corrected:
        return {"confirmed": False, "pressed_digit": None, "pressed_not_a_digit": False, "correction_text": ""}
    confirmed = submission.is_confirmed
    if confirmed:
        text = "Confirmed: not a digit" if submission.not_a_digit else f"Confirmed as {submission.corrected_digit}"
    elif submission.corrected_not_a_digit:
        text = "Corrected to not a digit"
    else:
        text = f"Corrected to {submission.corrected_digit}"
    return {
        "confirmed": confirmed,
        "pressed_digit": None if confirmed else submission.corrected_digit,
        "pressed_not_a_digit": not confirmed and submission.corrected_not_a_digit,
        "correction_text": text,
    }


def _page_context(**extra) -> dict:
    return {
        "max_upload_bytes": settings.DIGITVISION_MAX_UPLOAD_BYTES,
        "accept": ACCEPTED_IMAGE_TYPES,
        **result_panel_context(),
        **extra,
    }


@login_required
@require_GET
def draw(request: HttpRequest) -> HttpResponse:
    """The drawing pad; its script sends each drawing to POST /api/v1/predictions/."""
    return render(request, "recognizer/draw.html", _page_context(active="draw"))


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """The upload page; its script uses the API, and its form works without JavaScript (POST, then the result)."""
    form = UploadForm(request.POST or None, request.FILES or None)
    template = "recognizer/upload.html"
    if request.method == "POST":
        if not form.is_valid():
            return render(request, template, _page_context(active="upload", form=form), status=400)
        try:
            image_bytes = read_uploaded_file(form.cleaned_data["image"])
            submission = submission_create(user=request.user, image_bytes=image_bytes, source=Submission.Source.UPLOAD)
        except DigitVisionError as exc:
            # Shown beside the file field, so the person can pick another at once.
            form.add_error("image", str(exc))
            return refusal_response(request, exc, template, _page_context(active="upload", form=form))
        return redirect("recognizer:submission-detail", pk=submission.pk)
    return render(request, template, _page_context(active="upload", form=form))


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    filter_form = HistoryFilterForm(request.GET)
    submissions = submission_list_for_user(user=request.user, **filter_form.filters())
    page = Paginator(submissions, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "recognizer/history.html",
        {"active": "history", "filter_form": filter_form, "page_obj": page, "filtered": filter_form.is_filtered()},
    )


def _submission_or_404(select, request: HttpRequest, pk: int) -> Submission:
    """The submission ``select`` lets the person have; anything else is a 404, never a 403 that would reveal
    that another person's submission exists."""
    try:
        return select(user=request.user, submission_id=pk)
    except Submission.DoesNotExist as exc:
        raise Http404("No such submission.") from exc


def _own_submission_or_404(request: HttpRequest, pk: int) -> Submission:
    return _submission_or_404(submission_get_for_user, request, pk)


@login_required
@require_GET
def submission_detail(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _own_submission_or_404(request, pk)
    return render(request, "recognizer/detail.html", {"active": "history", **result_panel_context(submission)})


@login_required
@require_POST
def submission_correct_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The correction form without JavaScript (the page script uses PUT /api/v1/predictions/{id}/correction/):
    a digit, or not a digit, whatever the model said."""
    submission = _own_submission_or_404(request, pk)
    form = TrueAnswerForm(request.POST)
    if not form.is_valid():
        raise InvalidCorrectionError()
    submission_correct(submission=submission, user=request.user, **form.answer())
    return redirect("recognizer:submission-detail", pk=submission.pk)


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
    """The person's own submission, or any for staff (their images)."""
    return _submission_or_404(submission_get_visible_to, request, pk)


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
