"""API predictions: send images, list, read, correct and delete your own, and fetch their images."""

from django.http import FileResponse
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from recognizer.api import docs
from recognizer.api.filters import PredictionFilter
from recognizer.api.serializers import (
    BatchResultSerializer,
    CorrectionSerializer,
    PredictionBase64Serializer,
    PredictionSerializer,
    PredictionUploadSerializer,
)
from recognizer.api.views._submissions import IMAGE_ACTION, StoredImageViewSet
from recognizer.image_responses import private_file_response
from recognizer.models import Submission
from recognizer.selectors import (
    submission_list_for_user,
)
from recognizer.services import (
    submission_correct,
    submission_create,
)


@extend_schema_view(
    list=extend_schema(
        summary="Your predictions, newest first",
        parameters=[docs.INCLUDE_PARAMETER],
        responses=docs.responses(200, PredictionSerializer(many=True), 400, 404),
    ),
    retrieve=extend_schema(
        summary="One of your predictions",
        parameters=[docs.INCLUDE_PARAMETER],
        responses=docs.responses(200, PredictionSerializer, 404),
    ),
    destroy=extend_schema(
        summary="Delete a prediction and its images (no later retraining uses it)",
        responses=docs.responses(204, None, 404),
    ),
    create=extend_schema(
        summary="Predict the digit in an image (or say it is not one) and keep it in your history",
        parameters=[docs.INCLUDE_PARAMETER],
        request=docs.PREDICTION_REQUEST,
        responses=docs.responses(201, PredictionSerializer, 400, 409, 413, 415, 422, 503),
        examples=docs.PREDICTION_EXAMPLES,
    ),
    batch=extend_schema(
        summary="Predict several images at once; each gets a result or an error",
        parameters=[docs.INCLUDE_PARAMETER],
        request=docs.BATCH_REQUEST,
        responses=docs.responses(200, BatchResultSerializer, 400, 415, 503),
        examples=docs.BATCH_EXAMPLES,
    ),
)
class PredictionViewSet(StoredImageViewSet):
    """A person's own predictions; another person's is a 404, never a 403 that would reveal it exists."""

    serializer_class = PredictionSerializer
    filterset_class = PredictionFilter
    upload_serializer_class = PredictionUploadSerializer
    base64_serializer_class = PredictionBase64Serializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Submission.objects.none()
        return submission_list_for_user(user=self.request.user)

    def store(self, *, image_bytes: bytes, source: str, replaces: int | None = None) -> Submission:
        return submission_create(user=self.request.user, image_bytes=image_bytes, source=source, replaces_id=replaces)

    @extend_schema(
        summary="Correct (or confirm) a prediction: the true digit, or that it is not a digit",
        request=docs.json_body(CorrectionSerializer),
        responses=docs.responses(200, PredictionSerializer, 400, 404),
        examples=docs.CORRECTION_EXAMPLES,
    )
    @action(detail=True, methods=["put", "patch"])
    def correction(self, request: Request, pk: str) -> Response:
        submission = self.get_object()
        serializer = CorrectionSerializer(data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        answer = serializer.correction()
        if answer is not None:  # an empty PATCH changes nothing
            submission = submission_correct(submission=submission, user=request.user, **answer)
        return Response(self.get_serializer(submission).data)

    @extend_schema(
        summary="The 28x28 model input as a PNG",
        responses=docs.image_responses(docs.INPUT_IMAGE_TYPES, "The 28x28 model input, white ink on black."),
    )
    @action(detail=True, url_path="input-image", **IMAGE_ACTION)
    def input_image(self, request: Request, pk: str) -> FileResponse:
        return private_file_response(self.get_object().input_image)
