"""Database models: model versions and their history, submissions (a digit or a number) with the digits of a
number, and the training runs that make versions."""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from imagekit import ImageSpec
from imagekit.cachefiles import ImageCacheFile
from imagekit.processors import ResizeToFit, Transpose

DIGIT_CHOICES = [(d, str(d)) for d in range(10)]
NOT_A_DIGIT_TEXT = "not a digit"  # how pages and the admin name that answer
NOT_A_NUMBER_TEXT = "not a number"
MAX_NUMBER_DIGITS = 12  # ml.numbers.MAX_DIGITS; models never import ml


class ModelVersion(models.Model):
    """One checkpoint file, identified by its sha256; at most one is active (serving) at a time."""

    name = models.CharField(max_length=100, unique=True)
    weights_path = models.CharField(max_length=500, help_text="absolute path, or relative to MEDIA_ROOT")
    sha256 = models.CharField(max_length=64, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    metrics = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="recognizer_one_active_model_version"
            ),
        ]

    def __str__(self) -> str:
        return self.name


def _generated_name(folder: str, filename: str) -> str:
    # Never trust the uploaded name: only its extension survives, and services set that from the decoded format.
    suffix = PurePosixPath(filename).suffix.lower()
    return timezone.now().strftime(f"{folder}/%Y/%m/") + f"{uuid.uuid4().hex}{suffix}"


def submission_image_path(instance: "Submission", filename: str) -> str:
    return _generated_name("submissions", filename)


def submission_input_path(instance: "Submission", filename: str) -> str:
    return _generated_name("submissions/inputs", filename)


def digit_sample_input_path(instance: "DigitSample", filename: str) -> str:
    return _generated_name("submissions/inputs", filename)


PREVIEW_SIDE = 192  # History shows originals at 96 CSS px: twice that for high-density screens


class SubmissionPreview(ImageSpec):
    """A small WebP of an original for lists: turned upright by its EXIF orientation, never enlarged."""

    processors = [Transpose(), ResizeToFit(PREVIEW_SIDE, PREVIEW_SIDE, upscale=False)]
    format = "WEBP"
    options = {"quality": 80}


# Where a correction stands, for staff's filters: the person picked another answer or confirmed the model's;
# retraining uses it or staff left it out.
REVIEW_STATES = {
    "changed": "Changed by the person",
    "confirmed": "Confirmed",
    "included": "Used for training",
    "excluded": "Left out of training",
}
# The two answers a stored submission can have, for filters on what the model said and on the true answer (a
# blank image has no digit and is never stored).
ANSWERS = {"digit": "A digit", "not_a_digit": "Not a digit"}
NUMBER_ANSWERS = {"number": "A number", "not_a_number": "Not a number"}

# A correction is a digit or "not a digit", never both (a constraint below); uncorrected is neither. A number's
# correction is its true number (the digit fields are empty for a number, the number fields for a digit).
_CORRECTED = Q(corrected_digit__isnull=False) | Q(corrected_not_a_digit=True) | Q(corrected_number__gt="")
_UNCORRECTED = Q(corrected_digit__isnull=True, corrected_not_a_digit=False, corrected_number="")
# The true answer: the correction if any, else the model's.
_TRUE_NOT_A_DIGIT = Q(corrected_not_a_digit=True) | Q(corrected_digit__isnull=True, not_a_digit=True)
_TRUE_DIGIT = Q(corrected_digit__isnull=False) | Q(corrected_not_a_digit=False, not_a_digit=False)
# A number's true answer is a number when it was corrected (a correction is always a number) or read as one.
_TRUE_NUMBER = Q(corrected_number__gt="") | Q(not_a_number=False)
_CONFIRMED = Q(corrected_digit=F("predicted_digit")) | Q(corrected_not_a_digit=True, not_a_digit=True)
# Spelled without negation: NOT (corrected_digit = predicted_digit) is NULL, so false, for a refused submission.
_CHANGED = (
    Q(corrected_digit__isnull=False, not_a_digit=True)
    | Q(corrected_digit__lt=F("predicted_digit"))
    | Q(corrected_digit__gt=F("predicted_digit"))
    | Q(corrected_not_a_digit=True, not_a_digit=False)
)


def _check_number_answer(answer: str) -> None:
    if answer not in NUMBER_ANSWERS:
        raise ValueError(f"unknown answer {answer!r}: choose one of {', '.join(NUMBER_ANSWERS)}")


def _check_answer(answer: str) -> None:
    if answer not in ANSWERS:
        raise ValueError(f"unknown answer {answer!r}: choose one of {', '.join(ANSWERS)}")


class SubmissionQuerySet(models.QuerySet):
    def digits(self) -> "SubmissionQuerySet":
        """Single digits (what the digit pages, /api/v1/predictions/ and the corrections curation show)."""
        return self.filter(kind=Submission.Kind.DIGIT)

    def numbers(self) -> "SubmissionQuerySet":
        """Whole numbers, each with its digit samples."""
        return self.filter(kind=Submission.Kind.NUMBER)

    def with_true_number(self, number: str) -> "SubmissionQuerySet":
        """Numbers whose true number is ``number``: the correction if any, else what was read."""
        return self.filter(Q(corrected_number=number) | Q(corrected_number="", predicted_number=number))

    def with_digit_in_true_number(self, digit: int) -> "SubmissionQuerySet":
        """Numbers whose true number (the correction if any, else what was read) holds ``digit``."""
        return self.filter(
            Q(corrected_number__contains=str(digit)) | Q(corrected_number="", predicted_number__contains=str(digit))
        )

    def with_number_answer(self, answer: str) -> "SubmissionQuerySet":
        """Numbers by what was read, one of NUMBER_ANSWERS: ``number`` or ``not_a_number``."""
        _check_number_answer(answer)
        return self.filter(not_a_number=answer == "not_a_number")

    def with_true_number_answer(self, answer: str) -> "SubmissionQuerySet":
        """Numbers by their true answer, one of NUMBER_ANSWERS: a correction is always a number; uncorrected,
        what was read."""
        _check_number_answer(answer)
        return self.filter(_TRUE_NUMBER if answer == "number" else ~_TRUE_NUMBER)

    def with_true_digit(self, digit: int) -> "SubmissionQuerySet":
        """Submissions whose true digit is ``digit``: the correction if any, else the prediction. A submission
        whose true answer is "not a digit" has no true digit."""
        return self.filter(
            Q(corrected_digit=digit)
            | Q(corrected_digit__isnull=True, corrected_not_a_digit=False, predicted_digit=digit)
        )

    def with_true_not_a_digit(self, not_a_digit: bool = True) -> "SubmissionQuerySet":
        """Submissions whose true answer is "not a digit" (the correction says so, or, uncorrected, the model
        did); with ``not_a_digit=False``, those whose true answer is a digit."""
        return self.filter(_TRUE_NOT_A_DIGIT if not_a_digit else _TRUE_DIGIT)

    def with_answer(self, answer: str) -> "SubmissionQuerySet":
        """Submissions by what the model said, one of ANSWERS: ``digit`` or ``not_a_digit``."""
        _check_answer(answer)
        return self.filter(not_a_digit=answer == "not_a_digit")

    def with_true_answer(self, answer: str) -> "SubmissionQuerySet":
        """Submissions by their true answer (the correction if any, else the model's), one of ANSWERS."""
        _check_answer(answer)
        return self.with_true_not_a_digit(answer == "not_a_digit")

    def corrected(self, corrected: bool = True) -> "SubmissionQuerySet":
        """Corrected submissions (to a digit or to "not a digit"; a number to its true number), or with
        ``corrected=False`` the others."""
        return self.filter(_CORRECTED if corrected else _UNCORRECTED)

    def in_review_state(self, state: str) -> "SubmissionQuerySet":
        """Corrections by where staff's curation stands, one of REVIEW_STATES. Changed: the correction differs
        from the model's answer (another digit, a digit for "not a digit", or "not a digit" for a digit);
        confirmed: it agrees (the same digit, or "not a digit" twice)."""
        if state not in REVIEW_STATES:
            raise ValueError(f"unknown review state {state!r}: choose one of {', '.join(REVIEW_STATES)}")
        if state == "changed":
            return self.filter(_CHANGED)
        if state == "confirmed":
            return self.filter(_CONFIRMED)
        return self.filter(excluded_from_training=state == "excluded")


class Submission(models.Model):
    """One image a person sent, with what the model version said and, maybe, the person's correction.

    A digit (``kind`` "digit"): the model said one of two things (a constraint holds it), a digit with its
    confidence, or "not a digit" with the reason and neither; the correction, if any, is a digit or "not a
    digit", never both. A number (``kind`` "number"): the number read (a string of digits, leading zeros kept)
    with the whole number's confidence, or "not a number" with the reason and neither; its digits, left to
    right, are its DigitSamples, which hold their 28x28 inputs (the number's own ``input_image`` is empty). Its
    correction is the true number; when that has another count of digits than were found, the segmentation
    was wrong and no digit is corrected. The digit fields of a number are empty, and the number fields of a
    digit (constraints hold both).
    """

    objects = SubmissionQuerySet.as_manager()

    class Kind(models.TextChoices):
        DIGIT = "digit", "Digit"
        NUMBER = "number", "Number"

    class Source(models.TextChoices):
        CANVAS = "canvas", "Canvas"
        UPLOAD = "upload", "Upload"
        API = "api", "API"
        CLI = "cli", "Command line"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.DIGIT)
    image = models.FileField(upload_to=submission_image_path, max_length=255)
    input_image = models.FileField(
        upload_to=submission_input_path, max_length=255, blank=True, help_text="empty for a number"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    predicted_digit = models.PositiveSmallIntegerField(choices=DIGIT_CHOICES, null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    not_a_digit = models.BooleanField(default=False, help_text="the model said the ink is not one digit")
    refusal_reason = models.CharField(
        max_length=100,
        blank=True,
        help_text="why it is not a digit (or not a number), as the predictor said it; empty for a digit (a number)",
    )
    probabilities = models.JSONField(help_text="a digit's ten; empty for a number (each digit sample has its own)")
    predicted_number = models.CharField(
        max_length=MAX_NUMBER_DIGITS, blank=True, help_text="the number read, leading zeros kept; empty otherwise"
    )
    not_a_number = models.BooleanField(default=False, help_text="the ink holds no number")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="submissions")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    corrected_digit = models.PositiveSmallIntegerField(choices=DIGIT_CHOICES, null=True, blank=True)
    corrected_not_a_digit = models.BooleanField(default=False, help_text="the person says it is not a digit")
    corrected_number = models.CharField(
        max_length=MAX_NUMBER_DIGITS, blank=True, help_text="the true number, if corrected; empty otherwise"
    )
    segmentation_wrong = models.BooleanField(
        default=False, help_text="the true number has another count of digits than were found"
    )
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    corrected_at = models.DateTimeField(null=True, blank=True)
    # Staff curation: a correction judged wrong or unfit (a scribble, a joke) stays in its person's history
    # but is left out of retraining.
    excluded_from_training = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Every list is one person's digits or numbers, newest first.
        indexes = [models.Index(fields=["user", "kind", "-created_at"], name="recognizer_sub_user_kind")]
        constraints = [
            models.CheckConstraint(
                condition=Q(predicted_digit__isnull=True) | Q(predicted_digit__gte=0, predicted_digit__lte=9),
                name="recognizer_predicted_digit_0_9",
            ),
            models.CheckConstraint(
                condition=Q(corrected_digit__isnull=True) | Q(corrected_digit__gte=0, corrected_digit__lte=9),
                name="recognizer_corrected_digit_0_9",
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0.0, confidence__lte=1.0),
                name="recognizer_confidence_0_1",
            ),
            models.CheckConstraint(condition=Q(kind__in=["digit", "number"]), name="recognizer_submission_kind"),
            models.CheckConstraint(
                condition=Q(kind="number")
                | Q(not_a_digit=False, predicted_digit__isnull=False, confidence__isnull=False, refusal_reason="")
                | Q(not_a_digit=True, predicted_digit__isnull=True, confidence__isnull=True),
                name="recognizer_a_digit_or_not_a_digit",
            ),
            models.CheckConstraint(
                condition=Q(kind="digit")
                | Q(not_a_number=False, predicted_number__gt="", confidence__isnull=False, refusal_reason="")
                | Q(not_a_number=True, predicted_number="", confidence__isnull=True),
                name="recognizer_a_number_or_not_a_number",
            ),
            # A digit has no number fields, a number no digit fields.
            models.CheckConstraint(
                condition=Q(kind="digit", predicted_number="", not_a_number=False)
                | Q(kind="number", predicted_digit__isnull=True, not_a_digit=False),
                name="recognizer_answer_of_its_kind",
            ),
            models.CheckConstraint(
                condition=Q(kind="digit", corrected_number="", segmentation_wrong=False)
                | Q(kind="number", corrected_digit__isnull=True, corrected_not_a_digit=False),
                name="recognizer_correction_of_its_kind",
            ),
            models.CheckConstraint(
                condition=Q(corrected_digit__isnull=True) | Q(corrected_not_a_digit=False),
                name="recognizer_corrected_to_one_answer",
            ),
            models.CheckConstraint(
                condition=Q(segmentation_wrong=False) | Q(corrected_number__gt=""),
                name="recognizer_segmentation_wrong_when_corrected",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}: {self.true_answer_label} ({self.get_source_display()})"

    @property
    def preview(self) -> ImageCacheFile:
        """History's small picture of the original (a photo may be megabytes): made by imagekit on first use and
        kept under IMAGEKIT_CACHEFILE_DIR, named after the original. Not an ImageSpecField, so saving and loading
        submissions (every prediction) pays for no imagekit signal handlers."""
        return ImageCacheFile(SubmissionPreview(source=self.image))

    @property
    def is_number(self) -> bool:
        return self.kind == self.Kind.NUMBER

    @property
    def is_corrected(self) -> bool:
        return self.corrected_digit is not None or self.corrected_not_a_digit or bool(self.corrected_number)

    @property
    def corrected_by_staff(self) -> bool:
        """Corrected by someone other than its person: only staff may (the review queue, the Corrections page).
        A correction whose author's account is gone reads as the person's own."""
        return self.corrected_by_id is not None and self.corrected_by_id != self.user_id

    @property
    def number(self) -> str | None:
        """The number read (a number's), or None: not a number, or a digit."""
        return self.predicted_number or None

    @property
    def true_number(self) -> str | None:
        """A number's correction if any, else what was read; None when neither is a number."""
        return self.corrected_number or self.predicted_number or None

    @property
    def true_digit(self) -> int | None:
        """The person's digit when there is one, else the model's; None when the true answer is "not a digit"."""
        if self.corrected_digit is not None:
            return self.corrected_digit
        return None if self.corrected_not_a_digit else self.predicted_digit

    @property
    def true_not_a_digit(self) -> bool:
        """The correction says "not a digit", or, uncorrected, the model did."""
        return self.corrected_not_a_digit or (not self.is_corrected and self.not_a_digit)

    @property
    def is_confirmed(self) -> bool:
        """Corrected to what the model said: the same digit, or "not a digit" twice; for a number, the number
        read."""
        if self.is_number:
            return bool(self.corrected_number) and self.corrected_number == self.predicted_number
        if self.corrected_not_a_digit:
            return self.not_a_digit
        return self.corrected_digit is not None and self.corrected_digit == self.predicted_digit

    @property
    def closest_digit(self) -> int:
        """The most probable digit: the answer for a digit, the nearest miss for "not a digit"."""
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    @property
    def closest_probability(self) -> float:
        return float(self.probabilities[self.closest_digit])

    @property
    def answer_label(self) -> str:
        """What the model said, for people: "7" or "not a digit"; for a number "0427" or "not a number"."""
        if self.is_number:
            return self.predicted_number or NOT_A_NUMBER_TEXT
        return NOT_A_DIGIT_TEXT if self.not_a_digit else str(self.predicted_digit)

    @property
    def true_answer_label(self) -> str:
        if self.is_number:
            return self.true_number or NOT_A_NUMBER_TEXT
        return NOT_A_DIGIT_TEXT if self.true_not_a_digit else str(self.true_digit)


class DigitSample(models.Model):
    """One digit of a number, left to right from ``position`` 0: where it is in the original (pixels), the 28x28
    input the model saw, what it read and, when the number was corrected with as many digits as were found,
    the true digit (then it is retraining data, like a corrected single digit)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="digit_samples")
    position = models.PositiveSmallIntegerField(help_text="0 for the leftmost digit")
    box_x = models.PositiveIntegerField()
    box_y = models.PositiveIntegerField()
    box_width = models.PositiveIntegerField()
    box_height = models.PositiveIntegerField()
    input_image = models.FileField(upload_to=digit_sample_input_path, max_length=255)
    predicted_digit = models.PositiveSmallIntegerField(choices=DIGIT_CHOICES)
    confidence = models.FloatField()
    probabilities = models.JSONField()
    refused = models.BooleanField(default=False, help_text="alone, this ink would be refused as not a digit")
    corrected_digit = models.PositiveSmallIntegerField(choices=DIGIT_CHOICES, null=True, blank=True)

    class Meta:
        ordering = ["submission_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "position"], name="recognizer_one_digit_per_position"),
            models.CheckConstraint(
                condition=Q(predicted_digit__gte=0, predicted_digit__lte=9), name="recognizer_sample_digit_0_9"
            ),
            models.CheckConstraint(
                condition=Q(corrected_digit__isnull=True) | Q(corrected_digit__gte=0, corrected_digit__lte=9),
                name="recognizer_sample_corrected_digit_0_9",
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0.0, confidence__lte=1.0), name="recognizer_sample_confidence_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"digit {self.position} of #{self.submission_id}: {self.true_digit}"

    @property
    def box(self) -> tuple[int, int, int, int]:
        """x, y, width, height in the original image's pixels."""
        return (self.box_x, self.box_y, self.box_width, self.box_height)

    @property
    def true_digit(self) -> int:
        return self.predicted_digit if self.corrected_digit is None else self.corrected_digit


class NumberSubmission(Submission):
    """The same rows as Submission, for the admin's own list of numbers (with their digits inline)."""

    class Meta:
        proxy = True
        verbose_name = "number"
        verbose_name_plural = "numbers"


class ModelVersionEvent(models.Model):
    """A change of the serving model: who made which version active, when and why (promotion or rollback)."""

    class Action(models.TextChoices):
        ACTIVATED = "activated", "Activated"  # first activation, e.g. by `bootstrap`
        PROMOTED = "promoted", "Promoted by a training run"
        ROLLED_BACK = "rolled_back", "Rolled back"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="events")
    previous = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="active before"
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    reason = models.TextField(blank=True)
    training_run = models.ForeignKey(
        "TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="model_version_events"
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.version} at {self.at:%Y-%m-%d %H:%M}"


class TrainingRun(models.Model):
    """One retraining from people's corrections: queued -> running -> evaluating -> a verdict, with progress."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        EVALUATING = "evaluating", "Evaluating"
        PROMOTED = "promoted", "Promoted"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    IN_PROGRESS = (State.QUEUED, State.RUNNING, State.EVALUATING)

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED, db_index=True)
    # True while queued/running/evaluating, NULL after: the unique constraint below allows one run in flight.
    in_flight = models.BooleanField(null=True, default=True, editable=False)
    progress = models.FloatField(default=0.0, help_text="percent, 0-100")
    step = models.CharField(max_length=200, blank=True, help_text="what the run is doing now")
    base_version = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="training_runs",
        help_text="the active version the run fine-tuned",
    )
    candidate_version = models.OneToOneField(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="made_by_run",
        help_text="the version this run promoted",
    )
    train_samples = models.PositiveIntegerField(null=True, blank=True, help_text="corrections trained on")
    selection_samples = models.PositiveIntegerField(
        null=True, blank=True, help_text="corrections kept aside to choose the epoch"
    )
    holdout_samples = models.PositiveIntegerField(null=True, blank=True, help_text="corrections held out")
    replay_samples = models.PositiveIntegerField(null=True, blank=True, help_text="MNIST samples replayed")
    candidate_metrics = models.JSONField(default=dict, blank=True)
    active_metrics = models.JSONField(default=dict, blank=True)
    per_class = models.JSONField(default=list, blank=True, help_text="per digit: active vs candidate")
    correction_outcomes = models.JSONField(
        default=list,
        blank=True,
        help_text="per correction used: its key, label, part and both models' answers (ml.report.CorrectionOutcome)",
    )
    reason = models.TextField(blank=True, help_text="why it was promoted, rejected or failed")
    artifacts_dir = models.CharField(max_length=500, blank=True, help_text="relative to MEDIA_ROOT")
    plots = models.JSONField(default=list, blank=True, help_text="plot files, relative to MEDIA_ROOT")
    log = models.JSONField(default=list, blank=True, help_text="timestamped log lines")
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last progress write by the worker")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["in_flight"], condition=Q(in_flight=True), name="recognizer_one_training_run_in_flight"
            ),
            models.CheckConstraint(
                condition=Q(progress__gte=0.0, progress__lte=100.0), name="recognizer_progress_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"training run #{self.pk} ({self.state})"

    @property
    def is_in_progress(self) -> bool:
        return self.state in self.IN_PROGRESS

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or timezone.now()) - self.started_at).total_seconds()
