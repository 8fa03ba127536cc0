"""URLs of the recognizer's pages (their script calls the API, /api/v1/) and of the staff pages."""

from django.urls import path

from recognizer.views import health, people, staff

app_name = "recognizer"

urlpatterns = [
    path("", people.draw, name="draw"),
    path("health/", health.health, name="health"),
    path("upload/", people.upload, name="upload"),
    path("history/", people.history, name="history"),
    path("submissions/<int:pk>/", people.submission_detail, name="submission-detail"),
    path("submissions/<int:pk>/correct/", people.submission_correct_view, name="submission-correct"),
    path("submissions/<int:pk>/delete/", people.submission_delete_view, name="submission-delete"),
    path("submissions/<int:pk>/image/", people.submission_image, name="submission-image"),
    path("submissions/<int:pk>/preview/", people.submission_preview, name="submission-preview"),
    path("submissions/<int:pk>/input/", people.submission_input, name="submission-input"),
    path(
        "submissions/<int:pk>/digits/<int:position>/input/",
        people.submission_digit_input,
        name="submission-digit-input",
    ),
    path("submissions/<int:pk>/number/", people.submission_read_as_number, name="submission-read-as-number"),
    # Whole numbers: the Number page, and a number's page (its images are the submission's, above).
    path("numbers/", people.numbers, name="numbers"),
    path("numbers/<int:pk>/", people.number_detail, name="number-detail"),
    path("numbers/<int:pk>/correct/", people.number_correct_view, name="number-correct"),
    path("numbers/<int:pk>/delete/", people.number_delete_view, name="number-delete"),
    # Staff: the review queue, curating corrections, the serving model, rollback and retraining.
    path("staff/review/", staff.review_page, name="staff-review"),
    path("staff/review/<int:pk>/label/", staff.review_label_action, name="staff-review-label"),
    path("staff/corrections/", staff.corrections_page, name="staff-corrections"),
    path(
        "staff/corrections/<int:pk>/training/",
        staff.correction_training_use_action,
        name="staff-correction-training",
    ),
    path("staff/corrections/<int:pk>/digit/", staff.correction_digit_action, name="staff-correction-digit"),
    path("staff/models/", staff.models_page, name="staff-models"),
    path("staff/models/retrain/", staff.retrain, name="staff-retrain"),
    path("staff/models/<int:pk>/activate/", staff.model_version_activate_action, name="staff-model-activate"),
    path("staff/training-runs/<int:pk>/", staff.training_run_detail, name="staff-training-run"),
    path(
        "staff/training-runs/<int:pk>/cancel/",
        staff.training_run_cancel_action,
        name="staff-training-run-cancel",
    ),
    path("staff/training-runs/<int:pk>/plots/<int:index>/", staff.training_run_plot, name="training-run-plot"),
]
