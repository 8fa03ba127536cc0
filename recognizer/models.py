"""Database models: the model versions that serve predictions and the submissions they predicted."""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

DIGIT_CHOICES = [(d, str(d)) for d in range(10)]


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


class SubmissionQuerySet(models.QuerySet):
    def with_true_digit(self, digit: int) -> "SubmissionQuerySet":
        """Submissions whose true digit is ``digit``: the correction if any, else the prediction."""
        return self.filter(Q(corrected_digit=digit) | Q(corrected_digit__isnull=True, predicted_digit=digit))


class Submission(models.Model):
    """One image a person sent, with what the model version said and, maybe, the person's correction."""

    objects = SubmissionQuerySet.as_manager()

    class Source(models.TextChoices):
        CANVAS = "canvas", "Canvas"
        UPLOAD = "upload", "Upload"
        API = "api", "API"
        CLI = "cli", "Command line"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    image = models.FileField(upload_to=submission_image_path, max_length=255)
    input_image = models.FileField(upload_to=submission_input_path, max_length=255)
    source = models.CharField(max_length=10, choices=Source.choices)
    predicted_digit = models.PositiveSmallIntegerField(choices=DIGIT_CHOICES)
    confidence = models.FloatField()
    probabilities = models.JSONField()
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="submissions")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    corrected_digit = models.PositiveSmallIntegerField(choices=DIGIT_CHOICES, null=True, blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    corrected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="recognizer_sub_user_created")]
        constraints = [
            models.CheckConstraint(
                condition=Q(predicted_digit__gte=0, predicted_digit__lte=9), name="recognizer_predicted_digit_0_9"
            ),
            models.CheckConstraint(
                condition=Q(corrected_digit__isnull=True) | Q(corrected_digit__gte=0, corrected_digit__lte=9),
                name="recognizer_corrected_digit_0_9",
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0.0, confidence__lte=1.0), name="recognizer_confidence_0_1"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}: {self.true_digit} ({self.get_source_display()})"

    @property
    def is_corrected(self) -> bool:
        return self.corrected_digit is not None

    @property
    def true_digit(self) -> int:
        """The person's answer when there is one, else the model's."""
        return self.corrected_digit if self.corrected_digit is not None else self.predicted_digit
