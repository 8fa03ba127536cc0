"""API views, thin: authenticate, validate with serializers, then call services and selectors; nothing more."""

from recognizer.api.views.accounts import AccountDeleteView, AuthTokenView
from recognizer.api.views.numbers import NumberViewSet
from recognizer.api.views.predictions import PredictionViewSet
from recognizer.api.views.staff import CorrectionViewSet, ModelVersionViewSet, ReviewQueueViewSet, TrainingRunViewSet

__all__ = [
    "AccountDeleteView",
    "AuthTokenView",
    "CorrectionViewSet",
    "ModelVersionViewSet",
    "NumberViewSet",
    "PredictionViewSet",
    "ReviewQueueViewSet",
    "TrainingRunViewSet",
]
