"""URLs of the recognizer's pages, the JSON endpoints their script calls, and the staff pages."""

from django.urls import path

from recognizer import staff_views, views

app_name = "recognizer"

urlpatterns = [
    path("", views.draw, name="draw"),
    path("health/", views.health, name="health"),
    path("upload/", views.upload, name="upload"),
    path("predict/", views.predict, name="predict"),
    path("history/", views.history, name="history"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission-detail"),
    path("submissions/<int:pk>/correct/", views.submission_correct_view, name="submission-correct"),
    path("submissions/<int:pk>/delete/", views.submission_delete_view, name="submission-delete"),
    path("submissions/<int:pk>/image/", views.submission_image, name="submission-image"),
    path("submissions/<int:pk>/preview/", views.submission_preview, name="submission-preview"),
    path("submissions/<int:pk>/input/", views.submission_input, name="submission-input"),
    # Staff: curating corrections, the serving model, rollback and retraining.
    path("staff/corrections/", staff_views.corrections_page, name="staff-corrections"),
    path(
        "staff/corrections/<int:pk>/training/",
        staff_views.correction_training_use_action,
        name="staff-correction-training",
    ),
    path("staff/corrections/<int:pk>/digit/", staff_views.correction_digit_action, name="staff-correction-digit"),
    path("staff/models/", staff_views.models_page, name="staff-models"),
    path("staff/models/retrain/", staff_views.retrain, name="staff-retrain"),
    path("staff/models/<int:pk>/activate/", staff_views.model_version_activate_action, name="staff-model-activate"),
    path("staff/training-runs/<int:pk>/", staff_views.training_run_detail, name="staff-training-run"),
    path(
        "staff/training-runs/<int:pk>/cancel/",
        staff_views.training_run_cancel_action,
        name="staff-training-run-cancel",
    ),
    path("staff/training-runs/<int:pk>/plots/<int:index>/", staff_views.training_run_plot, name="training-run-plot"),
]
