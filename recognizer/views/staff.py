"""Staff pages: the review queue, curating corrections, model versions and rollback, retraining and its runs."""

from collections.abc import Callable
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from ml.refusal import NOT_A_DIGIT_LABEL
from ml.report import DigitChange, ModelFigures, ModelMetrics, figure_fields
from recognizer.exceptions import ModelWeightsError, TrainingError
from recognizer.forms import CorrectionReviewFilterForm, TrueAnswerForm
from recognizer.image_responses import private_file_response
from recognizer.models import NOT_A_DIGIT_TEXT, Submission, TrainingRun
from recognizer.selectors import (
    CorrectionItem,
    OutcomeGroup,
    model_version_events,
    model_version_list,
    model_version_list_with_corrections,
    number_corrections,
    submission_corrections_for_review,
    submission_corrections_for_training,
    submission_review_queue,
    training_run_current,
    training_run_list,
    training_run_outcome_groups,
)
from recognizer.services import model_version_rollback, submission_correct, submission_set_training_use
from recognizer.services.training_runs import training_run_cancel, training_run_start
from recognizer.templatetags.digitvision import percent

RECENT_RUNS = 10
CORRECTIONS_PAGE_SIZE = 48
REVIEW_PAGE_SIZE = 24
# The ModelMetrics fields shown on the Models page for each version, in this order (labels come with them).
VERSION_METRICS = ("test_accuracy", "holdout_accuracy", "val_accuracy", "test_ece_after_scaling")


def staff_required(view: Callable) -> Callable:
    """Anonymous people are sent to sign in; signed-in people who are not staff get 403, not a login loop."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


# --------------------------------------------------------------------------- formatting figures
# Each figure's field in ml.report says how it reads (kind), which way is better, and whether it is a change.


def format_figure(kind: str, value) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if kind == "fraction":  # accuracies are stored as fractions in [0, 1]
        return percent(value, 2)
    if kind in ("count", "epoch", "run"):
        return f"{int(value):,}"
    if kind == "points":
        return f"{value:.2f} pp"
    return f"{value:.4f}"


def format_change(kind: str, change) -> str:
    if change is None:
        return ""
    if change == 0:
        return "no change"
    if kind == "fraction":
        return f"{change * 100:+.2f} pp"
    if kind == "points":  # already in percentage points
        return f"{change:+.2f} pp"
    if kind in ("count", "epoch", "run"):
        return f"{int(change):+,}"
    return f"{change:+.4f}"


def trend(better: str, change) -> str:
    """ "better" or "worse" for a change of a figure, so the page colours it; "" for neither (a count, no change)."""
    if not better or change is None or change == 0:
        return ""
    return "better" if (change > 0) == (better == "higher") else "worse"


def metric_rows(active: ModelFigures, candidate: ModelFigures) -> list[dict]:
    """One row per figure either model has: active, candidate and the change (candidate - active)."""
    rows = []
    for f in figure_fields(ModelFigures):
        a, c = getattr(active, f.name), getattr(candidate, f.name)
        if a is None and c is None:
            continue
        kind, better = f.metadata["kind"], f.metadata["better"]
        change = c - a if a is not None and c is not None else None
        rows.append(
            {
                "key": f.name,
                "label": f.metadata["label"],
                "active": format_figure(kind, a),
                "candidate": format_figure(kind, c),
                "change": format_change(kind, change),
                "trend": trend(better, change),
            }
        )
    return rows


def _per_class_cell(f, value) -> dict:
    kind, better = f.metadata["kind"], f.metadata["better"]
    if f.metadata["change"]:
        return {"text": format_change(kind, value) or "—", "trend": trend(better, value)}
    return {"text": format_figure(kind, value), "trend": ""}


def per_class_table(per_class: list[DigitChange]) -> dict:
    """Per-digit figures as a table: the digit, then every figure of DigitChange."""
    columns = figure_fields(DigitChange)
    return {
        "columns": ["Digit", *(f.metadata["label"] for f in columns)],
        "rows": [
            [{"text": str(row.digit), "trend": ""}, *(_per_class_cell(f, getattr(row, f.name)) for f in columns)]
            for row in per_class
        ],
    }


# What the retraining did with a correction (ml.report.CorrectionOutcome.part), as a run's page marks it.
PARTS = {"train": "trained on", "selection": "chose the epoch", "holdout": "held out"}


def answer_text(answer: int) -> str:
    """A digit, or "not a digit" for NOT_A_DIGIT_LABEL (the true answer, or a model's refusal)."""
    return NOT_A_DIGIT_TEXT if answer == NOT_A_DIGIT_LABEL else str(answer)


def _outcome_item(item: CorrectionItem) -> dict:
    o = item.outcome
    what = "Ink that is not a digit" if o.label == NOT_A_DIGIT_LABEL else f"{'An' if o.label == 8 else 'A'} {o.label}"
    if o.outcome == "learnt":
        said = f"the active model read as {answer_text(o.active)}"
    else:
        said = f"the candidate still reads as {answer_text(o.candidate)}"
    return {
        "key": o.key,
        "image_url": item.image_url,
        "detail_url": item.detail_url,
        "alt": f"{what} {said} ({PARTS.get(o.part, o.part)})",
        "active": answer_text(o.active),
        "candidate": answer_text(o.candidate),
        "part": o.part,
        "part_text": PARTS.get(o.part, o.part),
    }


def outcome_rows(groups: list[OutcomeGroup]) -> list[dict]:
    """A run's corrections per true answer: the counts, and the inputs it learnt and still gets wrong."""
    return [
        {
            "label": answer_text(g.label),
            "group": g,
            "learnt": [_outcome_item(i) for i in g.learnt_items],
            "learnt_more": g.learnt - len(g.learnt_items),
            "still_wrong": [_outcome_item(i) for i in g.still_wrong_items],
            "still_wrong_more": g.still_wrong - len(g.still_wrong_items),
        }
        for g in groups
    ]


def _key_metrics(metrics: ModelMetrics) -> list[tuple[str, str]]:
    by_name = {f.name: f for f in figure_fields(ModelMetrics)}
    found = []
    for name in VERSION_METRICS:
        value = getattr(metrics, name)
        if value is not None:
            found.append((by_name[name].metadata["label"], format_figure(by_name[name].metadata["kind"], value)))
    return found


def _version_rows(versions) -> list[dict]:
    return [{"version": v, "metrics": _key_metrics(ModelMetrics.from_dict(v.metrics))} for v in versions]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


# --------------------------------------------------------------------------- pages


@staff_required
@require_GET
def corrections_page(request: HttpRequest) -> HttpResponse:
    """Everyone's corrections, to keep for retraining, leave out, or set to the right digit or not a digit."""
    filter_form = CorrectionReviewFilterForm(request.GET)
    corrections = submission_corrections_for_review(**filter_form.filters())
    page = Paginator(corrections, CORRECTIONS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "recognizer/staff/corrections.html",
        {
            "active": "corrections",
            "filter_form": filter_form,
            "page_obj": page,
            "used_count": submission_corrections_for_training().count(),
            "numbers": number_corrections(),
            "digits": range(10),
        },
    )


def _back(request: HttpRequest, default: str = "recognizer:staff-corrections") -> HttpResponse:
    """Back to the page (and filters) the form was sent from; ``default`` (a URL name) if it names none of ours."""
    target = request.POST.get("next", "")
    host, https = {request.get_host()}, request.is_secure()
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts=host, require_https=https)
    return redirect(target if safe else reverse(default))


def _correction_or_404(pk: int) -> Submission:
    return get_object_or_404(submission_corrections_for_review(), pk=pk)


@staff_required
@require_POST
def correction_training_use_action(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _correction_or_404(pk)
    use = request.POST.get("use") == "yes"
    submission_set_training_use(submission=submission, user=request.user, use=use)
    messages.success(request, f"Submission #{pk} is {'used for' if use else 'left out of'} training from now on.")
    return _back(request)


@staff_required
@require_POST
def correction_digit_action(request: HttpRequest, pk: int) -> HttpResponse:
    _label(request, _correction_or_404(pk))
    return _back(request)


def _label(request: HttpRequest, submission: Submission) -> None:
    """The answer the button sent (a digit, or not a digit), recorded as this staff member's correction; a bad
    one changes nothing and says so."""
    form = TrueAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a digit from 0 to 9, or not a digit.")
        return
    submission = submission_correct(submission=submission, user=request.user, **form.answer())
    messages.success(request, f"Submission #{submission.pk} is now labelled {submission.true_answer_label}.")


@staff_required
@require_GET
def review_page(request: HttpRequest) -> HttpResponse:
    """Everyone's predictions nobody has corrected, refused and least sure first, each labelled in one click."""
    page = Paginator(submission_review_queue(), REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "recognizer/staff/review.html", {"active": "review", "page_obj": page, "digits": range(10)})


@staff_required
@require_POST
def review_label_action(request: HttpRequest, pk: int) -> HttpResponse:
    """One click of the queue: a digit or "not a digit", recorded as this staff member's correction."""
    submission = get_object_or_404(Submission.objects.digits(), pk=pk)
    if submission.is_corrected:  # labelled meanwhile (by its person, or by other staff): theirs stays
        messages.info(request, f"Submission #{pk} was already labelled {submission.true_answer_label}.")
    else:
        _label(request, submission)
    return _back(request, "recognizer:staff-review")


@staff_required
@require_GET
def models_page(request: HttpRequest) -> HttpResponse:
    current = training_run_current()
    return render(
        request,
        "recognizer/staff/models.html",
        {
            "active": "models",
            "version_rows": _version_rows(model_version_list_with_corrections()),
            "events": model_version_events(),
            "current_run": current,
            "current_run_api_url": _run_api_url(current) if current else "",
            "runs": training_run_list()[:RECENT_RUNS],
            "used_count": submission_corrections_for_training().count(),
            "numbers": number_corrections(),
        },
    )


@staff_required
@require_POST
def retrain(request: HttpRequest) -> HttpResponse:
    try:
        run = training_run_start(requested_by=request.user)
    except TrainingError as exc:  # not possible, in progress, queue unavailable, or a race with a finishing run
        messages.error(request, str(exc))
        return redirect("recognizer:staff-models")
    messages.success(request, f"Training run #{run.pk} is queued; this page follows its progress.")
    return redirect("recognizer:staff-training-run", pk=run.pk)


@staff_required
@require_POST
def model_version_activate_action(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(model_version_list(), pk=pk)
    try:
        model_version_rollback(version=version, by=request.user, reason=request.POST.get("reason", "")[:2000])
    except ModelWeightsError as exc:
        messages.error(request, f"{version.name} was not made active, so nothing changed: {exc}")
    else:
        messages.success(request, f"{version.name} is now the active model; it serves from the next request on.")
    return redirect("recognizer:staff-models")


def _run_api_url(run: TrainingRun) -> str:
    try:
        return reverse("api:training-run-detail", args=[run.pk])
    except NoReverseMatch:  # the documented address, should the API's route names change
        return f"/api/v1/training-runs/{run.pk}/"


@staff_required
@require_GET
def training_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(training_run_list(), pk=pk)
    return render(
        request,
        "recognizer/staff/training_run.html",
        {
            "active": "models",
            "run": run,
            "api_url": _run_api_url(run),
            "duration": _duration(run.duration_seconds),
            # Rows of any age read through ml.report's adapters (from_dict knows the unversioned shapes).
            "metric_rows": metric_rows(
                ModelFigures.from_dict(run.active_metrics), ModelFigures.from_dict(run.candidate_metrics)
            ),
            "per_class": per_class_table(
                [DigitChange.from_dict(r) for r in run.per_class or [] if isinstance(r, dict)]
            ),
            "outcomes": outcome_rows(training_run_outcome_groups(run=run, user=request.user)),
            "plot_urls": [reverse("recognizer:training-run-plot", args=[run.pk, i]) for i in range(len(run.plots))],
            "verdict_class": {
                TrainingRun.State.PROMOTED: "ok",
                TrainingRun.State.REJECTED: "warn",
            }.get(run.state, "err"),
        },
    )


@staff_required
@require_POST
def training_run_cancel_action(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(training_run_list(), pk=pk)
    try:
        training_run_cancel(run=run, by=request.user)
    except TrainingError as exc:  # it finished meanwhile
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Training run #{run.pk} was cancelled; the active model is unchanged.")
    return redirect("recognizer:staff-training-run", pk=run.pk)


@staff_required
@require_GET
def training_run_plot(request: HttpRequest, pk: int, index: int) -> FileResponse:
    run = get_object_or_404(training_run_list(), pk=pk)
    if not 0 <= index < len(run.plots):
        raise Http404("No such plot.")
    media = Path(settings.MEDIA_ROOT).resolve()
    path = (media / run.plots[index]).resolve()
    if not path.is_relative_to(media):  # the stored name is data: never let it reach outside the media folder
        raise Http404("No such plot.")
    return private_file_response(path)
