"""API routes under /api/v1/ (namespace `api`)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from recognizer.api import views

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("predictions", views.PredictionViewSet, basename="prediction")
router.register("numbers", views.NumberViewSet, basename="number")
router.register("models", views.ModelVersionViewSet, basename="model-version")
router.register("training-runs", views.TrainingRunViewSet, basename="training-run")
router.register("corrections", views.CorrectionViewSet, basename="correction")
router.register("staff/review", views.ReviewQueueViewSet, basename="review")

urlpatterns = [
    path("auth/token/", views.AuthTokenView.as_view(), name="auth-token"),
    path("account/delete/", views.AccountDeleteView.as_view(), name="account-delete"),
    *router.urls,
]
