"""Every read of the recognizer's data (HackSoftware Django-Styleguide selectors)."""

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

import numpy as np
from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.fields.files import FieldFile
from django.db.models.functions import Coalesce
from django.urls import reverse
from PIL import Image, UnidentifiedImageError

from ml.decode import register_image_formats
from ml.refusal import NOT_A_DIGIT_LABEL
from ml.report import CorrectionOutcome
from ml.retrain import GROUP_SEPARATOR
from recognizer.exceptions import NoActiveModelVersionError
from recognizer.models import (
    ANSWERS,
    NUMBER_ANSWERS,
    DigitSample,
    ModelVersion,
    ModelVersionEvent,
    Submission,
    TrainingRun,
)


def model_version_active() -> ModelVersion:
    """The model version serving predictions; raises NoActiveModelVersionError when there is none."""
    version = ModelVersion.objects.filter(is_active=True).first()
    if version is None:
        raise NoActiveModelVersionError()
    return version


SubmissionOrder = Literal["newest", "lowest_confidence"]
# "Not a digit" has no confidence: the least sure of all, first on every database (SQLite and PostgreSQL
# disagree on where NULLs go by default).
LEAST_SURE_FIRST = (F("confidence").asc(nulls_first=True), "-created_at", "-id")
SUREST_FIRST = (F("confidence").desc(nulls_last=True), "-created_at", "-id")
_ORDERINGS: dict[str, tuple] = {
    "newest": ("-created_at", "-id"),
    "lowest_confidence": LEAST_SURE_FIRST,
}


def submission_list_for_user(
    *,
    user,
    digit: int | None = None,
    corrected: bool | None = None,
    answer: str | None = None,
    true_answer: str | None = None,
    order: SubmissionOrder = "newest",
) -> QuerySet[Submission]:
    """A person's own single digits (numbers have their own list). ``digit`` filters on the true digit (the
    correction if any, else the prediction); ``answer`` on what the model said and ``true_answer`` on the true
    answer, each ``digit`` or ``not_a_digit``; ``corrected`` on either kind of correction."""
    if order not in _ORDERINGS:
        # A programming error, not a client's: the history form and the API's filter offer only these orders.
        raise ValueError(f"unknown order {order!r}: choose one of {', '.join(_ORDERINGS)}")
    qs = Submission.objects.digits().filter(user=user).select_related("model_version")
    if digit is not None:
        qs = qs.with_true_digit(digit)
    if corrected is not None:
        qs = qs.corrected(corrected)
    if answer is not None:
        qs = qs.with_answer(answer)
    if true_answer is not None:
        qs = qs.with_true_answer(true_answer)
    return qs.order_by(*_ORDERINGS[order])


def submission_get_for_user(*, user, submission_id: int) -> Submission:
    """One of the person's own single digits; another person's (or a number) raises Submission.DoesNotExist like
    a missing one."""
    return Submission.objects.digits().select_related("model_version").get(user=user, pk=submission_id)


# --------------------------------------------------------------------------- numbers


def number_list_for_user(*, user) -> QuerySet[Submission]:
    """A person's own numbers, newest first, each with its digit samples (left to right)."""
    return (
        Submission.objects.numbers()
        .filter(user=user)
        .select_related("model_version")
        .prefetch_related("digit_samples")
        .order_by(*_ORDERINGS["newest"])
    )


def number_get_for_user(*, user, number_id: int) -> Submission:
    """One of the person's own numbers; another person's (or a digit) raises Submission.DoesNotExist like a
    missing one."""
    return number_list_for_user(user=user).get(pk=number_id)


# --------------------------------------------------------------------------- web: image access


def submission_get_visible_to(*, user, submission_id: int) -> Submission:
    """A submission its owner or a staff member may see (its images); anyone else gets Submission.DoesNotExist."""
    qs = Submission.objects.all() if user.is_staff else Submission.objects.filter(user=user)
    return qs.get(pk=submission_id)


def input_pixels(file: FieldFile) -> np.ndarray:
    """A 28x28 model input as stored (8-bit PNG): float32 (28, 28) in [0, 1] with ink high."""
    with file.open("rb") as handle, Image.open(handle) as img:
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def submission_input_pixels(*, submission: Submission) -> list[list[float]]:
    """A digit's 28x28 model input as rows of floats in [0, 1] with ink high."""
    return np.round(input_pixels(submission.input_image), 4).tolist()


def digit_sample_input_pixels(*, sample: DigitSample) -> list[list[float]]:
    """The 28x28 model input of one digit of a number, as rows of floats in [0, 1] with ink high."""
    return np.round(input_pixels(sample.input_image), 4).tolist()


# --------------------------------------------------------------------------- model versions


def model_version_list() -> QuerySet[ModelVersion]:
    """Every model version, newest first, with what the list pages show about each."""
    return ModelVersion.objects.select_related("parent", "created_by").order_by("-created_at", "-id")


def model_version_list_with_corrections() -> QuerySet[ModelVersion]:
    """``model_version_list`` for the Models page, each version with ``corrections_seen`` and
    ``corrections_right``: how many of the single digits it read (while it served, so since it was promoted)
    people corrected, and how many of those corrections confirm its answer: how it does on what people send."""
    corrected = Submission.objects.digits().corrected().filter(model_version=OuterRef("pk"))
    confirmed = corrected.in_review_state("confirmed")
    return model_version_list().annotate(corrections_seen=_count(corrected), corrections_right=_count(confirmed))


def _count(submissions: QuerySet[Submission]) -> Coalesce:
    """A correlated COUNT(*) of ``submissions`` (filtered on an OuterRef), 0 when there are none."""
    counted = submissions.order_by().values("model_version").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


# --------------------------------------------------------------------------- training


def submission_corrections_for_training() -> QuerySet[Submission]:
    """Every corrected single digit (to a digit, or to "not a digit", a confirmed refusal included) that still
    exists (a deleted one is gone, so never trained on) and that staff have not excluded, oldest first."""
    return Submission.objects.digits().corrected().filter(excluded_from_training=False).order_by("id")


def digit_sample_corrections_for_training() -> QuerySet[DigitSample]:
    """Every corrected digit of a number (the number was corrected with as many digits as were found, so not
    one whose segmentation was wrong) that still exists and whose number staff have not excluded, oldest
    number first, left to right."""
    return DigitSample.objects.filter(
        corrected_digit__isnull=False,
        submission__kind=Submission.Kind.NUMBER,
        submission__segmentation_wrong=False,
        submission__excluded_from_training=False,
    ).order_by("submission_id", "position")


@dataclass(frozen=True)
class NumberCorrections:
    """How corrected numbers stand: how many, how many had their digits found wrong (another count of
    digits: no digit of theirs is trained on), and how many of their digits the next retraining uses."""

    corrected: int
    segmentation_wrong: int
    digits_for_training: int

    @property
    def segmentation_wrong_share(self) -> float | None:
        return self.segmentation_wrong / self.corrected if self.corrected else None


def number_corrections() -> NumberCorrections:
    corrected = Submission.objects.numbers().corrected()
    return NumberCorrections(
        corrected=corrected.count(),
        segmentation_wrong=corrected.filter(segmentation_wrong=True).count(),
        digits_for_training=digit_sample_corrections_for_training().count(),
    )


def submission_corrections_for_review(
    *,
    digit: int | None = None,
    state: str | None = None,
    answer: str | None = None,
    true_answer: str | None = None,
) -> QuerySet[Submission]:
    """Everyone's corrected single digits for staff to curate, newest correction first.

    digit: the corrected digit. state: one of REVIEW_STATES (changed, confirmed, included, excluded).
    answer: what the model said, true_answer: what the correction says; each one of ANSWERS (digit,
    not_a_digit): answer="digit", true_answer="not_a_digit" are the digits corrected to "not a digit".
    """
    corrections = Submission.objects.digits().corrected().select_related("user", "corrected_by")
    if digit is not None:
        corrections = corrections.filter(corrected_digit=digit)
    if state is not None:
        corrections = corrections.in_review_state(state)
    if answer is not None:
        corrections = corrections.with_answer(answer)
    if true_answer is not None:
        corrections = corrections.with_true_answer(true_answer)
    return corrections.order_by("-corrected_at", "-id")


# Refused ("not a digit": no confidence) first, then the least sure, then the oldest: the longest waiting.
REVIEW_QUEUE_ORDER = (F("confidence").asc(nulls_first=True), "created_at", "id")


def submission_review_queue() -> QuerySet[Submission]:
    """Everyone's single digits that nobody has corrected, for staff to label: refused ones first, then by
    ascending confidence, then oldest first. A labelled one (by its person or by staff) leaves the queue."""
    return (
        Submission.objects.digits()
        .corrected(False)
        .select_related("user", "model_version")
        .order_by(*REVIEW_QUEUE_ORDER)
    )


def training_run_current() -> TrainingRun | None:
    """The run queued, running or evaluating, if any (there is at most one)."""
    return TrainingRun.objects.filter(in_flight=True).first()


def training_run_list() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("requested_by", "base_version", "candidate_version").order_by(
        "-created_at", "-id"
    )


# A run's page shows at most this many inputs of each answer it learnt, and as many it still gets wrong.
OUTCOME_ITEMS_SHOWN = 24
# services.training_runs' correction keys read back: a single digit's, or a number's digit (its position).
_CORRECTION_KEY = re.compile(rf"submission-(\d+)(?:{re.escape(GROUP_SEPARATOR)}digit-(\d+))?")


@dataclass(frozen=True)
class CorrectionItem:
    """One correction a run used, with links for staff: its 28x28 input (None once its submission is deleted)
    and its admin page (None where the staff member may not see it there)."""

    outcome: CorrectionOutcome
    image_url: str | None = None
    detail_url: str | None = None


@dataclass(frozen=True)
class OutcomeGroup:
    """The corrections of one true answer (a digit, or NOT_A_DIGIT_LABEL) in a run: how many the retraining
    learnt, still gets wrong, kept and lost, and the first few it learnt and still gets wrong."""

    label: int
    learnt: int
    still_wrong: int
    kept: int
    lost: int
    learnt_items: list[CorrectionItem]
    still_wrong_items: list[CorrectionItem]

    @property
    def total(self) -> int:
        return self.learnt + self.still_wrong + self.kept + self.lost


def training_run_outcome_groups(*, run: TrainingRun, user=None, shown: int = OUTCOME_ITEMS_SHOWN) -> list[OutcomeGroup]:
    """What a retraining did to each answer's corrections: digits 0-9, then "not a digit", only those it used
    (none for a run made before outcomes were kept, or that failed). Each group's learnt and still wrong items
    are its first ``shown``; one query finds which of their submissions still exist."""
    outcomes = [CorrectionOutcome.from_dict(o) for o in run.correction_outcomes or [] if isinstance(o, dict)]
    by_label: dict[int, list[CorrectionOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_label[outcome.label].append(outcome)
    labels = [label for label in [*range(10), NOT_A_DIGIT_LABEL] if label in by_label]
    picked = {
        (label, kind): [o for o in by_label[label] if o.outcome == kind][:shown]
        for label in labels
        for kind in ("learnt", "still_wrong")
    }
    places = {o.key: _correction_place(o.key) for items in picked.values() for o in items}
    ids = {place[0] for place in places.values() if place}
    kinds = dict(Submission.objects.filter(pk__in=ids).values_list("pk", "kind"))
    admin = {
        kind: user is not None and user.has_perm(f"recognizer.view_{model}")
        for kind, model in ((Submission.Kind.DIGIT, "submission"), (Submission.Kind.NUMBER, "numbersubmission"))
    }

    def item(outcome: CorrectionOutcome) -> CorrectionItem:
        place = places[outcome.key]
        kind = kinds.get(place[0]) if place else None
        if kind is None or (kind == Submission.Kind.NUMBER) != (place[1] is not None):
            return CorrectionItem(outcome)  # deleted since, or a key of another shape
        pk, position = place
        if position is None:
            image = reverse("recognizer:submission-input", args=[pk])
            detail = reverse("admin:recognizer_submission_change", args=[pk])
        else:
            image = reverse("recognizer:submission-digit-input", args=[pk, position])
            detail = reverse("admin:recognizer_numbersubmission_change", args=[pk])
        return CorrectionItem(outcome, image_url=image, detail_url=detail if admin[kind] else None)

    groups = []
    for label in labels:
        count = {kind: 0 for kind in ("learnt", "still_wrong", "kept", "lost")}
        for outcome in by_label[label]:
            count[outcome.outcome] += 1
        groups.append(
            OutcomeGroup(
                label=label,
                **count,
                learnt_items=[item(o) for o in picked[label, "learnt"]],
                still_wrong_items=[item(o) for o in picked[label, "still_wrong"]],
            )
        )
    return groups


def _correction_place(key: str) -> tuple[int, int | None] | None:
    """A correction key's submission id and, for a number's digit, its position; None for any other key."""
    match = _CORRECTION_KEY.fullmatch(key)
    if match is None:
        return None
    return int(match[1]), None if match[2] is None else int(match[2])


def model_version_events(*, limit: int = 50) -> QuerySet[ModelVersionEvent]:
    """The latest promotions and rollbacks, newest first."""
    return ModelVersionEvent.objects.select_related("version", "previous", "by", "training_run")[:limit]


def history_list_for_user(
    *,
    user,
    kind: str | None = None,
    digit: int | None = None,
    corrected: bool | None = None,
    answer: str | None = None,
    true_answer: str | None = None,
    order: str = "newest",
) -> QuerySet[Submission]:
    """A person's digits and numbers in one list, filtered alike (History's filters): ``kind`` "digit" or
    "number"; ``digit``: a digit's true digit, or a digit in a number's true number; ``answer`` and
    ``true_answer``: one of ANSWERS for digits, one of NUMBER_ANSWERS for numbers."""
    answers = {a for a in (answer, true_answer) if a}
    parts = []
    if kind in (None, "digit") and answers <= ANSWERS.keys():
        filters = {"digit": digit, "corrected": corrected, "answer": answer, "true_answer": true_answer}
        parts.append(submission_list_for_user(user=user, **filters))
    if kind in (None, "number") and answers <= NUMBER_ANSWERS.keys():
        numbers = number_list_for_user(user=user)
        if digit is not None:
            numbers = numbers.with_digit_in_true_number(digit)
        if corrected is not None:
            numbers = numbers.corrected(corrected)
        if answer is not None:
            numbers = numbers.with_number_answer(answer)
        if true_answer is not None:
            numbers = numbers.with_true_number_answer(true_answer)
        parts.append(numbers)
    if not parts:
        return Submission.objects.none()
    both = parts[0] if len(parts) == 1 else parts[0] | parts[1]
    return both.order_by(*(LEAST_SURE_FIRST if order == "lowest_confidence" else ("-created_at", "-id")))


# EXIF orientations that turn the picture a quarter: upright, it is as wide as the stored image is high.
_QUARTER_TURNS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


def image_upright_size(file: FieldFile) -> tuple[int, int] | None:
    """The original's width and height upright (its EXIF orientation applied, as for the digits' boxes), from
    its header alone; None when it cannot be read."""
    register_image_formats()
    try:
        with file.open("rb") as handle, Image.open(handle) as img:
            width, height = img.size
            turned = img.getexif().get(_EXIF_ORIENTATION) in _QUARTER_TURNS
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return (height, width) if turned else (width, height)
