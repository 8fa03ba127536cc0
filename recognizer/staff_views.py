"""Staff pages: curating corrections, the serving model's versions, rollback, retraining and its runs."""

from collections.abc import Callable
from functools import wraps
from numbers import Real
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

from recognizer.exceptions import ModelWeightsError, TrainingError
from recognizer.forms import CorrectionForm, CorrectionReviewFilterForm
from recognizer.image_responses import private_file_response
from recognizer.models import Submission, TrainingRun
from recognizer.selectors import (
    model_version_events,
    model_version_list,
    submission_corrections_for_review,
    submission_corrections_for_training,
    training_run_current,
    training_run_list,
)
from recognizer.services import model_version_rollback, submission_correct, submission_set_training_use
from recognizer.services.training import training_run_cancel, training_run_fail_stale, training_run_start

RECENT_RUNS = 10
CORRECTIONS_PAGE_SIZE = 48
# Metrics shown on the Models page for each version: label, then the report keys that may hold it (first wins).
# The shipped model's report (ml.train) and a retrained one's (ml.retrain) name them differently.
VERSION_METRICS = [
    ("MNIST test", ("test_accuracy", "mnist_test_accuracy")),
    ("holdout", ("holdout_accuracy",)),
    ("validation", ("val_accuracy",)),
    ("ECE", ("test_ece_after_scaling", "ece")),
]
# Figures of a run's reports and per-digit columns in the order the page lists them (ml.retrain's names, then the
# older short ones); any other figure follows, by name.
METRIC_ORDER = [
    "mnist_test_accuracy",
    "mnist_test_correct",
    "mnist_test_total",
    "mnist_test_ece",
    "holdout_accuracy",
    "holdout_correct",
    "holdout_total",
    "val_accuracy",
    "ece",
    "temperature",
]
PER_CLASS_ORDER = [
    "digit",
    "active",
    "candidate",
    "change",
    "test_count",
    "test_recall_active",
    "test_recall_candidate",
    "test_recall_change_pts",
    "holdout_count",
    "holdout_correct_active",
    "holdout_correct_candidate",
    "holdout_change",
]
_WORDS = {"mnist": "MNIST", "ece": "ECE", "pts": ""}


def staff_required(view: Callable) -> Callable:
    """Anonymous people are sent to sign in; signed-in people who are not staff get 403, not a login loop."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("staff only")
        return view(request, *args, **kwargs)

    return login_required(wrapped)


# --------------------------------------------------------------------------- formatting figures


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_fraction(key: str) -> bool:
    # Accuracies are stored as fractions in [0, 1]: shown as percentages, their changes in percentage points.
    return "accuracy" in key or key.endswith("_rate")


def format_figure(key: str, value) -> str:
    if not _is_number(value):
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if _is_fraction(key):
        return f"{value * 100:.2f}%"
    return f"{value:.4f}"


def format_change(key: str, change) -> str:
    if not _is_number(change):
        return ""
    if change == 0:
        return "no change"
    if isinstance(change, int):
        return f"{change:+,}"
    if _is_fraction(key):
        return f"{change * 100:+.2f} pp"
    return f"{change:+.4f}"


def _label(key: str) -> str:
    words = [_WORDS.get(word, word) for word in key.split("_")]
    text = " ".join(word for word in words if word)
    return text[:1].upper() + text[1:]


def _trend(key: str, change) -> str:
    """Whether a change of the figure ``key`` is "better" or "worse" (or neither: a count), so the page colours it."""
    if not _is_number(change) or change == 0:
        return ""
    if any(word in key for word in ("accuracy", "correct", "recall")):
        return "better" if change > 0 else "worse"
    if any(word in key for word in ("ece", "loss", "error")):
        return "better" if change < 0 else "worse"
    return ""


def _ordered(keys, first: list[str]) -> list[str]:
    # JSON objects come back from PostgreSQL (jsonb) with their keys reordered: known keys first, then by name.
    keys = set(keys)
    return [k for k in first if k in keys] + sorted(keys - set(first))


def metric_rows(active: dict, candidate: dict) -> list[dict]:
    """One row per numeric figure in either report: active, candidate and the change (candidate - active)."""
    numeric = [k for k in {*active, *candidate} if _is_number(active.get(k)) or _is_number(candidate.get(k))]
    keys = _ordered(numeric, METRIC_ORDER)
    rows = []
    for key in keys:
        a, c = active.get(key), candidate.get(key)
        change = c - a if _is_number(a) and _is_number(c) else None
        rows.append(
            {
                "key": key,
                "label": _label(key),
                "active": format_figure(key, a),
                "candidate": format_figure(key, c),
                "change": format_change(key, change),
                "trend": _trend(key, change),
            }
        )
    return rows


def _per_class_cell(column: str, value) -> dict:
    # Per-class figures are recalls (fractions) or counts (ints); changes are higher-is-better.
    if column == "digit":
        return {"text": str(value), "trend": ""}
    if "change" in column:
        if column.endswith("_pts") and _is_number(value):  # already in percentage points
            text = "no change" if value == 0 else f"{value:+.2f} pp"
        else:
            text = format_change("accuracy", value) or "—"
        return {"text": text, "trend": _trend("accuracy", value)}
    return {"text": format_figure("accuracy", value), "trend": ""}


def per_class_table(per_class: list) -> dict:
    """Per-digit figures as a table whose columns are whatever keys the rows carry, "digit" first."""
    rows = [row for row in per_class if isinstance(row, dict)]
    columns = _ordered({key for row in rows for key in row}, PER_CLASS_ORDER)
    return {
        "columns": [_label(c) for c in columns],
        "rows": [[_per_class_cell(c, row.get(c)) for c in columns] for row in rows],
    }


def _key_metrics(metrics: dict) -> list[tuple[str, str]]:
    found = []
    for label, keys in VERSION_METRICS:
        key = next((k for k in keys if _is_number(metrics.get(k))), None)
        if key is not None:
            found.append((label, format_figure(key, metrics[key])))
    return found


def _version_rows(versions) -> list[dict]:
    return [{"version": v, "metrics": _key_metrics(v.metrics or {})} for v in versions]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


# --------------------------------------------------------------------------- pages


@staff_required
@require_GET
def corrections_page(request: HttpRequest) -> HttpResponse:
    """Everyone's corrections, to keep for retraining, leave out, or set to the right digit."""
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
            "digits": range(10),
        },
    )


def _back_to_corrections(request: HttpRequest) -> HttpResponse:
    """Back to the page (and filters) the form was sent from."""
    target = request.POST.get("next", "")
    host, https = {request.get_host()}, request.is_secure()
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts=host, require_https=https)
    return redirect(target if safe else reverse("recognizer:staff-corrections"))


def _correction_or_404(pk: int) -> Submission:
    return get_object_or_404(submission_corrections_for_review(), pk=pk)


@staff_required
@require_POST
def correction_training_use_action(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _correction_or_404(pk)
    use = request.POST.get("use") == "yes"
    submission_set_training_use(submission=submission, user=request.user, use=use)
    messages.success(request, f"Submission #{pk} is {'used for' if use else 'left out of'} training from now on.")
    return _back_to_corrections(request)


@staff_required
@require_POST
def correction_digit_action(request: HttpRequest, pk: int) -> HttpResponse:
    submission = _correction_or_404(pk)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a digit from 0 to 9.")
    else:
        submission_correct(submission=submission, user=request.user, digit=form.cleaned_data["digit"])
        messages.success(request, f"Submission #{pk} is now labelled {form.cleaned_data['digit']}.")
    return _back_to_corrections(request)


@staff_required
@require_GET
def models_page(request: HttpRequest) -> HttpResponse:
    training_run_fail_stale()  # a run whose worker died shows as failed, and Retrain becomes available again
    current = training_run_current()
    return render(
        request,
        "recognizer/staff/models.html",
        {
            "active": "models",
            "version_rows": _version_rows(model_version_list()),
            "events": model_version_events(),
            "current_run": current,
            "current_run_api_url": _run_api_url(current) if current else "",
            "runs": training_run_list()[:RECENT_RUNS],
            "used_count": submission_corrections_for_training().count(),
        },
    )


@staff_required
@require_POST
def retrain(request: HttpRequest) -> HttpResponse:
    try:
        run = training_run_start(requested_by=request.user)
    except TrainingError as exc:  # in progress, queue unavailable, or a race with a finishing run
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
            "metric_rows": metric_rows(run.active_metrics or {}, run.candidate_metrics or {}),
            "per_class": per_class_table(run.per_class or []),
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
