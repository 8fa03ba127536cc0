"""URLs of the recognizer's pages and the JSON endpoints their script calls."""

from django.urls import path

from recognizer import views

app_name = "recognizer"

urlpatterns = [
    path("", views.draw, name="draw"),
    path("upload/", views.upload, name="upload"),
    path("predict/", views.predict, name="predict"),
    path("history/", views.history, name="history"),
    path("submissions/<int:pk>/", views.submission_detail, name="submission-detail"),
    path("submissions/<int:pk>/correct/", views.submission_correct_view, name="submission-correct"),
    path("submissions/<int:pk>/image/", views.submission_image, name="submission-image"),
    path("submissions/<int:pk>/input/", views.submission_input, name="submission-input"),
]
