"""Admin pages for submissions (digits, and numbers with their digits), model versions and their history,
training runs and accounts; writes use services."""

import base64

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from recognizer.exceptions import ModelWeightsError, TrainingError
from recognizer.models import (
    ANSWERS,
    DigitSample,
    ModelVersion,
    ModelVersionEvent,
    NumberSubmission,
    Submission,
    TrainingRun,
)
from recognizer.services import account_delete, model_version_rollback, submission_delete
from recognizer.services.training_runs import training_run_start


class CorrectedFilter(admin.SimpleListFilter):
    title = "corrected"
    parameter_name = "corrected"

    def lookups(self, request, model_admin):
        return [("yes", "Corrected"), ("no", "Not corrected")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.corrected(self.value() == "yes")  # to a digit or to "not a digit"
        return queryset


class TrueAnswerFilter(admin.SimpleListFilter):
    title = "true answer"
    parameter_name = "true_answer"

    def lookups(self, request, model_admin):
        return list(ANSWERS.items())

    def queryset(self, request, queryset):
        return queryset.with_true_answer(self.value()) if self.value() in ANSWERS else queryset


class _StoredImageAdmin(admin.ModelAdmin):
    """What the admin pages of digits and of numbers share: the original's images, the correction, deletion
    through the service (so the images go with the rows), nothing added here."""

    search_fields = ["user__username", "=id"]
    list_select_related = ["user", "model_version"]
    date_hierarchy = "created_at"

    @admin.display(description="correction")
    def correction(self, obj: Submission) -> str:
        if not obj.is_corrected:
            return "-"
        return f"confirmed {obj.true_answer_label}" if obj.is_confirmed else f"→ {obj.true_answer_label}"

    # Images through the access-checked views (staff may see every submission's): in production the media
    # folder is not served at all.
    @admin.display(description="image")
    def thumbnail(self, obj: Submission) -> str:
        url = reverse("recognizer:submission-preview", args=[obj.pk])
        return format_html('<img src="{}" alt="submission {}" style="height:48px;width:auto">', url, obj.pk)

    @admin.display(description="original image")
    def original(self, obj: Submission) -> str:
        url = reverse("recognizer:submission-image", args=[obj.pk])
        return format_html('<img src="{}" alt="original" style="max-height:280px;width:auto">', url)

    def has_add_permission(self, request) -> bool:
        return False  # submissions come from predictions only

    def delete_model(self, request, obj: Submission) -> None:
        submission_delete(submission=obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for submission in queryset:
                submission_delete(submission=submission)


@admin.register(Submission)
class SubmissionAdmin(_StoredImageAdmin):
    """Single digits; numbers have their own pages."""

    list_display = [
        "id",
        "thumbnail",
        "answer",
        "confidence",
        "correction",
        "user",
        "source",
        "model_version",
        "created_at",
    ]
    list_display_links = ["id", "thumbnail"]
    list_filter = [
        "not_a_digit",
        "predicted_digit",
        "source",
        "model_version",
        CorrectedFilter,
        TrueAnswerFilter,
        "excluded_from_training",
        "created_at",
    ]
    readonly_fields = [
        "original",
        "model_input",
        "user",
        "source",
        "predicted_digit",
        "confidence",
        "not_a_digit",
        "refusal_reason",
        "probabilities",
        "model_version",
        "created_at",
        "corrected_digit",
        "corrected_not_a_digit",
        "corrected_by",
        "corrected_at",
        "excluded_from_training",
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).digits()

    @admin.display(description="model said", ordering="predicted_digit")
    def answer(self, obj: Submission) -> str:
        if obj.not_a_digit and obj.refusal_reason and obj.refusal_reason != obj.answer_label:
            return f"{obj.answer_label} ({obj.refusal_reason})"
        return obj.answer_label

    @admin.display(description="model input (28x28)")
    def model_input(self, obj: Submission) -> str:
        url = reverse("recognizer:submission-input", args=[obj.pk])
        return format_html('<img src="{}" alt="model input" style="height:112px;image-rendering:pixelated">', url)


class DigitSampleInline(admin.TabularInline):
    """A number's digits, left to right, read-only."""

    model = DigitSample
    fk_name = "submission"
    extra = 0
    fields = ["position", "model_input", "predicted_digit", "confidence", "refused", "corrected_digit", "box"]
    readonly_fields = fields

    @admin.display(description="model input (28x28)")
    def model_input(self, obj: DigitSample) -> str:
        # Inline, as a data: URL (a few hundred bytes): the page views serve a digit's original, not its digits.
        try:
            with obj.input_image.open("rb") as handle:
                png = handle.read()
        except (OSError, ValueError):
            return "(missing)"
        src = "data:image/png;base64," + base64.b64encode(png).decode()
        return format_html(
            '<img src="{}" alt="digit {}" style="height:56px;image-rendering:pixelated">', src, obj.position
        )

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a number's digits go with it (delete the number)


@admin.register(NumberSubmission)
class NumberAdmin(_StoredImageAdmin):
    """Whole numbers with their digits inline; read-only, like the digits."""

    list_display = [
        "id",
        "thumbnail",
        "answer",
        "confidence",
        "correction",
        "segmentation_wrong",
        "user",
        "source",
        "model_version",
        "created_at",
    ]
    list_display_links = ["id", "thumbnail"]
    list_filter = [
        "not_a_number",
        "source",
        "model_version",
        CorrectedFilter,
        "segmentation_wrong",
        "excluded_from_training",
        "created_at",
    ]
    search_fields = [*_StoredImageAdmin.search_fields, "predicted_number", "corrected_number"]
    readonly_fields = [
        "original",
        "user",
        "source",
        "predicted_number",
        "confidence",
        "not_a_number",
        "refusal_reason",
        "model_version",
        "created_at",
        "corrected_number",
        "segmentation_wrong",
        "corrected_by",
        "corrected_at",
        "excluded_from_training",
    ]
    fields = readonly_fields
    inlines = [DigitSampleInline]

    def get_queryset(self, request):
        return super().get_queryset(request).numbers()

    @admin.display(description="number read", ordering="predicted_number")
    def answer(self, obj: Submission) -> str:
        return f"{obj.answer_label} ({obj.refusal_reason})" if obj.not_a_number else obj.answer_label


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "sha256_short", "parent", "created_at", "created_by"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["name", "sha256"]
    readonly_fields = ["name", "weights_path", "sha256", "parent", "metrics", "is_active", "created_at", "created_by"]
    actions = ["retrain_now", "make_active"]

    @admin.display(description="sha256")
    def sha256_short(self, obj: ModelVersion) -> str:
        return obj.sha256[:12]

    def has_add_permission(self, request) -> bool:
        return False  # versions are registered by `manage.py bootstrap` or by training

    def has_delete_permission(self, request, obj=None) -> bool:
        # Versions are history: submissions, events and training runs name them, and any may be rolled back to.
        return False

    @admin.action(description="Retrain from corrections now")
    def retrain_now(self, request, queryset) -> None:
        # The selection does not matter (the active version is always the base); admin actions just need one.
        try:
            run = training_run_start(requested_by=request.user)
        except (TrainingError, PermissionDenied) as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
            return
        url = reverse("recognizer:staff-training-run", args=[run.pk])
        self.message_user(
            request, format_html('Training run <a href="{}">#{}</a> is queued.', url, run.pk), level=messages.SUCCESS
        )

    @admin.action(description="Make the selected version active (roll back)")
    def make_active(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to make active.", level=messages.ERROR)
            return
        version = queryset.get()
        try:
            model_version_rollback(version=version, by=request.user, reason="rolled back from the admin")
        except (ModelWeightsError, PermissionDenied) as exc:
            self.message_user(request, f"{version.name} was not made active: {exc}", level=messages.ERROR)
            return
        self.message_user(request, f"{version.name} is now the active model.", level=messages.SUCCESS)


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record written only by services: listed and viewed here, never added, edited or deleted."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelVersionEvent)
class ModelVersionEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "action", "version", "previous", "by", "training_run", "reason"]
    list_filter = ["action", "at"]
    list_select_related = ["version", "previous", "by", "training_run"]
    search_fields = ["version__name", "reason"]
    date_hierarchy = "at"


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "state", "progress_percent", "requested_by", "created_at", "duration", "verdict"]
    list_filter = ["state", "created_at"]
    list_select_related = ["requested_by"]
    date_hierarchy = "created_at"

    @admin.display(description="progress", ordering="progress")
    def progress_percent(self, obj: TrainingRun) -> str:
        return f"{obj.progress:.0f}%"

    @admin.display(description="duration")
    def duration(self, obj: TrainingRun) -> str:
        seconds = obj.duration_seconds
        return "-" if seconds is None else f"{seconds:.0f} s"

    @admin.display(description="verdict reason")
    def verdict(self, obj: TrainingRun) -> str:
        return obj.reason if len(obj.reason) <= 120 else obj.reason[:119] + "…"


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class AccountAdmin(UserAdmin):
    """Django's user admin, but deleting a person goes through the service, so their images go too."""

    def delete_model(self, request, obj) -> None:
        account_delete(user=obj)

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for user in queryset:
                account_delete(user=user)
