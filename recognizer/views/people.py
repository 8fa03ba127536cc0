"""The people's pages: draw, upload, the Number page, history, a digit's or a number's detail, correction,
deletion and images."""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ml.refusal import NOT_A_DIGIT, SEVERAL_DIGITS
from recognizer.exceptions import DigitVisionError, InvalidCorrectionError
from recognizer.forms import (
    ACCEPTED_IMAGE_TYPES,
    HistoryFilterForm,
    NumberCorrectionForm,
    TrueAnswerForm,
    UploadForm,
)
from recognizer.image_responses import private_file_response, private_preview_response
from recognizer.models import DigitSample, Submission
from recognizer.request_images import read_uploaded_file
from recognizer.selectors import (
    history_list_for_user,
    image_upright_size,
    number_get_for_user,
    submission_get_for_user,
    submission_get_visible_to,
)
from recognizer.services import (
    number_correct,
    number_create,
    number_digit_correct,
    submission_correct,
    submission_create,
    submission_delete,
)
from recognizer.templatetags.digitvision import percent
from recognizer.views.errors import refusal_response

# What the panel says under "This doesn't look like a single digit", by the predictor's reason (ml.refusal).
REFUSAL_REASONS = {
    NOT_A_DIGIT: "It may be a letter, a shape or a scribble. Try one digit, 0–9.",
    SEVERAL_DIGITS: "It looks like several digits.",
}

HISTORY_PAGE_SIZE = 24

# A digit of a number read with less confidence than this, or that alone would be refused as not a digit, is
# marked unsure on the pages (static/recognizer/number_page.js reads it from the panel).
UNSURE_BELOW = 0.8


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


def number_panel_context(number: Submission | None = None) -> dict:
    """Context of templates/recognizer/_number_panel.html: filled for a number, else empty for the script."""
    samples = list(number.digit_samples.all()) if number else []
    refused = bool(number and number.not_a_number)
    unsure = [sample.position for sample in samples if _is_unsure(sample)]
    return {
        "number": number,
        "number_refused": refused,
        "number_confidence_text": percent(number.confidence) if number and not refused else "",
        "digit_rows": [_digit_row(number, sample) for sample in samples],
        # The digit the one-digit picker fixes at first: the first unsure one, else the first.
        "fix_position": unsure[0] if unsure else 0,
        "unsure_below": UNSURE_BELOW,
        "unsure_percent": percent(UNSURE_BELOW, 0),
        "picker_digits": range(10),
        # The one-digit picker: not for "not a number", nor once the digits found are known to be wrong.
        "fix_hidden": bool(number) and (refused or not samples or number.segmentation_wrong),
        "number_correction_text": _number_correction_text(number),
        "number_confirmed": bool(number and number.is_confirmed),
    }


def _is_unsure(sample: DigitSample) -> bool:
    return sample.refused or sample.confidence < UNSURE_BELOW


def _digit_row(number: Submission, sample: DigitSample) -> dict:
    corrected_to = sample.corrected_digit
    return {
        "position": sample.position,
        "label": sample.position + 1,
        "digit": sample.predicted_digit,
        "confidence_text": percent(sample.confidence),
        "unsure": _is_unsure(sample),
        "corrected_to": corrected_to if corrected_to is not None and corrected_to != sample.predicted_digit else None,
        "input_url": reverse("api:number-digit-input-image", args=[number.pk, sample.position]),
    }


def _number_correction_text(number: Submission | None) -> str:
    """What the panel says of a number's correction; static/recognizer/number_page.js says the same."""
    if number is None or not number.is_corrected:
        return ""
    if number.segmentation_wrong:
        return (
            f"Corrected to {number.corrected_number}: another count of digits than were found, so the "
            "segmentation is marked wrong; the digits were not used for training."
        )
    if number.is_confirmed:
        return f"Confirmed: {number.corrected_number}"
    return f"Corrected to {number.corrected_number}"


def _page_context(panel: dict | None = None, **extra) -> dict:
    return {
        "max_upload_bytes": settings.DIGITVISION_MAX_UPLOAD_BYTES,
        "accept": ACCEPTED_IMAGE_TYPES,
        **(result_panel_context() if panel is None else panel),
        **extra,
    }


@login_required
@require_GET
def draw(request: HttpRequest) -> HttpResponse:
    """The drawing pad; its script sends each drawing to POST /api/v1/predictions/."""
    return render(request, "recognizer/draw.html", _page_context(active="draw"))


def _upload_page(
    request: HttpRequest, *, template: str, context: Callable[..., dict], create: Callable[..., Submission], detail: str
) -> HttpResponse:
    """A page with an upload form whose script uses the API; without JavaScript the form posts here, ``create``
    stores the image (a digit or a number) and the person sees it on its ``detail`` page."""
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, template, context(form=form), status=400)
        try:
            image_bytes = read_uploaded_file(form.cleaned_data["image"])
            submission = create(user=request.user, image_bytes=image_bytes, source=Submission.Source.UPLOAD)
        except DigitVisionError as exc:
            # Shown beside the file field, so the person can pick another at once.
            form.add_error("image", str(exc))
            return refusal_response(request, exc, template, context(form=form))
        return redirect(detail, pk=submission.pk)
    return render(request, template, context(form=form))


@login_required
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    """The upload page; its script uses the API, and its form works without JavaScript (POST, then the result)."""
    return _upload_page(
        request,
        template="recognizer/upload.html",
        context=lambda **extra: _page_context(active="upload", **extra),
        create=submission_create,
        detail="recognizer:submission-detail",
    )


@login_required
@require_http_methods(["GET", "POST"])
def numbers(request: HttpRequest) -> HttpResponse:
    """The Number page: a wide drawing pad and an upload, read as a whole number. Its script sends both to
    POST /api/v1/numbers/; the upload form works without JavaScript too (POST, then the number's page)."""
    return _upload_page(
        request,
        template="recognizer/numbers.html",
        context=lambda **extra: _page_context(number_panel_context(), active="numbers", **extra),
        create=number_create,
        detail="recognizer:number-detail",
    )


@login_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    filter_form = HistoryFilterForm(request.GET)
    submissions = history_list_for_user(user=request.user, **filter_form.filters())
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


def _delete_page(request: HttpRequest, submission: Submission, *, what: str, detail: str) -> HttpResponse:
    """GET asks to confirm (no script needed); POST deletes the submission (a digit or a number, its digits)
    and its images for good."""
    pk = submission.pk
    if request.method == "POST":
        submission_delete(submission=submission)
        messages.success(request, f"{what} #{pk} has been deleted.")
        return redirect("recognizer:history")
    context = {"active": "history", "submission": submission, "what": what, "detail_url": reverse(detail, args=[pk])}
    return render(request, "recognizer/delete.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def submission_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _own_submission_or_404(request, pk)
    return _delete_page(request, submission, what="Submission", detail="recognizer:submission-detail")


@login_required
@require_POST
def submission_read_as_number(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Read as a number" without JavaScript (the page script sends the same original to POST
    /api/v1/numbers/): the original of a digit's submission read again as a number, then its page."""
    submission = _own_submission_or_404(request, pk)
    with submission.image.open("rb") as handle:
        image_bytes = handle.read()
    number = number_create(user=request.user, image_bytes=image_bytes, source=submission.source)
    return redirect("recognizer:number-detail", pk=number.pk)


# --------------------------------------------------------------------------- numbers


def _own_number_or_404(request: HttpRequest, pk: int) -> Submission:
    try:
        return number_get_for_user(user=request.user, number_id=pk)
    except Submission.DoesNotExist as exc:
        raise Http404("No such number.") from exc


def _boxes_context(number: Submission) -> dict | None:
    """The digits' boxes over the original, in its pixels: an SVG with the original's size as its viewBox
    scales them with the image as shown. Each box is labelled with its digit, above it (inside, at the top
    edge). None when the original's size is unknown."""
    size = image_upright_size(number.image)
    if size is None:
        return None
    rows = []
    for sample in number.digit_samples.all():
        font = max(8, round(sample.box_height / 4))
        above = sample.box_y >= font + 4
        rows.append(
            {
                "label": sample.position + 1,
                "digit": sample.true_digit,
                "x": sample.box_x,
                "y": sample.box_y,
                "width": sample.box_width,
                "height": sample.box_height,
                "font": font,
                "text_y": sample.box_y - 4 if above else sample.box_y + font,
                "unsure": _is_unsure(sample),
            }
        )
    return {"width": size[0], "height": size[1], "rows": rows}


@login_required
@require_GET
def number_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A number's page: the original with each digit's box over it, each digit's crop, and its correction."""
    number = _own_number_or_404(request, pk)
    context = {"active": "history", "boxes": _boxes_context(number), "on_detail_page": True}
    context.update(number_panel_context(number))
    return render(request, "recognizer/number_detail.html", context)


@login_required
@require_POST
def number_correct_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A number's correction without JavaScript (the page script uses PUT/PATCH
    /api/v1/numbers/{id}/correction/): confirmed, typed, or one digit fixed."""
    number = _own_number_or_404(request, pk)
    form = NumberCorrectionForm(request.POST)
    if not form.is_valid():
        raise InvalidCorrectionError("Give one correction: the number, or one digit of it.")
    answer = form.answer(number.predicted_number)
    correct = number_digit_correct if "position" in answer else number_correct
    correct(submission=number, user=request.user, **answer)
    return redirect("recognizer:number-detail", pk=number.pk)


@login_required
@require_http_methods(["GET", "POST"])
def number_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _delete_page(request, _own_number_or_404(request, pk), what="Number", detail="recognizer:number-detail")


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


@login_required
@require_GET
def submission_digit_input(request: HttpRequest, pk: int, position: int) -> FileResponse:
    """One digit of a number as the model saw it: for its owner (whose pages use the API's), and for staff, to
    whom a training run's page shows what it learnt."""
    sample = _visible_submission_or_404(request, pk).digit_samples.filter(position=position).first()
    if sample is None:
        raise Http404("This number has no digit at that position.")
    return private_file_response(sample.input_image)
