"""Admin pages for submissions and model versions; read-mostly, writes go through services."""

from django.contrib import admin
from django.utils.html import format_html

from recognizer.models import ModelVersion, Submission


class CorrectedFilter(admin.SimpleListFilter):
    title = "corrected"
    parameter_name = "corrected"

    def lookups(self, request, model_admin):
        return [("yes", "Corrected"), ("no", "Not corrected")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(corrected_digit__isnull=False)
        if self.value() == "no":
            return queryset.filter(corrected_digit__isnull=True)
        return queryset


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "thumbnail",
        "predicted_digit",
        "confidence",
        "corrected_digit",
        "user",
        "source",
        "model_version",
        "created_at",
    ]
    list_display_links = ["id", "thumbnail"]
    list_filter = ["predicted_digit", "source", "model_version", CorrectedFilter, "created_at"]
    search_fields = ["user__username", "=id"]
    list_select_related = ["user", "model_version"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "preview",
        "input_preview",
        "user",
        "image",
        "input_image",
        "source",
        "predicted_digit",
        "confidence",
        "probabilities",
        "model_version",
        "created_at",
        "corrected_digit",
        "corrected_by",
        "corrected_at",
    ]
    fields = readonly_fields

    @admin.display(description="image")
    def thumbnail(self, obj: Submission) -> str:
        if not obj.image:
            return "-"
        return format_html('<img src="{}" alt="submission {}" style="height:48px;width:auto">', obj.image.url, obj.pk)

    @admin.display(description="original image")
    def preview(self, obj: Submission) -> str:
        if not obj.image:
            return "-"
        return format_html('<img src="{}" alt="original" style="max-height:280px;width:auto">', obj.image.url)

    @admin.display(description="model input (28x28)")
    def input_preview(self, obj: Submission) -> str:
        if not obj.input_image:
            return "-"
        return format_html(
            '<img src="{}" alt="model input" style="height:112px;image-rendering:pixelated">', obj.input_image.url
        )

    def has_add_permission(self, request) -> bool:
        return False  # submissions come from predictions only


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "sha256_short", "parent", "created_at", "created_by"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["name", "sha256"]
    readonly_fields = ["name", "weights_path", "sha256", "parent", "metrics", "is_active", "created_at", "created_by"]

    @admin.display(description="sha256")
    def sha256_short(self, obj: ModelVersion) -> str:
        return obj.sha256[:12]

    def has_add_permission(self, request) -> bool:
        return False  # versions are registered by `manage.py bootstrap` or by training
