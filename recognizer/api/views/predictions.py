"""API predictions: send images, list, read, correct and delete your own, and fetch their images."""

from django.db import transaction
from django.http import FileResponse, Http404
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from recognizer.api import docs
from recognizer.api.errors import error_body
from recognizer.api.filters import PredictionFilter
from recognizer.api.renderers import ImageErrorsAsJsonMixin, ImageRenderer
from recognizer.api.serializers import (
    BatchBase64Serializer,
    BatchResultSerializer,
    BatchUploadSerializer,
    CorrectionSerializer,
    PredictionBase64Serializer,
    PredictionSerializer,
    PredictionUploadSerializer,
)
from recognizer.exceptions import (
    DigitVisionError,
)
from recognizer.image_responses import private_file_response, private_preview_response
from recognizer.models import Submission
from recognizer.request_images import decode_base64_image, read_uploaded_file
from recognizer.selectors import (
    submission_list_for_user,
)
from recognizer.services import (
    submission_correct,
    submission_create,
    submission_delete,
)


def _image_bytes(value) -> bytes:
    return decode_base64_image(value) if isinstance(value, str) else read_uploaded_file(value)


def _is_multipart(request: Request) -> bool:
    return request.content_type.startswith("multipart/")


def _include_input(request: Request) -> bool:
    """`?include=input`; anything else named in `include` is refused rather than silently ignored."""
    if "include" not in request.query_params:
        return False
    names = request.query_params["include"].split(",")
    if set(names) != {"input"}:
        raise ValidationError({"include": ["Only `input` can be included: ?include=input."]})
    return True


def _predict(*, user, image, source: str, replaces: int | None = None) -> Submission:
    """One image (file or base64 text) to a stored submission; a refusal is a DigitVisionError."""
    return submission_create(user=user, image_bytes=_image_bytes(image), source=source, replaces_id=replaces)


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
)
class PredictionViewSet(
    ImageErrorsAsJsonMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A person's own predictions; another person's is a 404, never a 403 that would reveal it exists."""

    serializer_class = PredictionSerializer
    filterset_class = PredictionFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Submission.objects.none()
        return submission_list_for_user(user=self.request.user)

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        _include_input(request)  # refuse a bad `include` before doing any work

    def get_object(self) -> Submission:
        try:
            return super().get_object()
        except Http404 as exc:
            raise Http404("No such prediction among yours.") from exc

    def get_serializer_context(self) -> dict:
        request = getattr(self, "request", None)
        return {**super().get_serializer_context(), "include_input": request is not None and _include_input(request)}

    @extend_schema(
        summary="Predict the digit in an image (or say it is not one) and keep it in your history",
        parameters=[docs.INCLUDE_PARAMETER],
        request=docs.PREDICTION_REQUEST,
        responses=docs.responses(201, PredictionSerializer, 400, 409, 413, 415, 422, 503),
        examples=docs.PREDICTION_EXAMPLES,
    )
    def create(self, request: Request) -> Response:
        serializer_class = PredictionUploadSerializer if _is_multipart(request) else PredictionBase64Serializer
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = _predict(user=request.user, **serializer.validated_data)
        return Response(self.get_serializer(submission).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Predict several images at once; each gets a result or an error",
        parameters=[docs.INCLUDE_PARAMETER],
        request=docs.BATCH_REQUEST,
        responses=docs.responses(200, BatchResultSerializer, 400, 415, 503),
        examples=docs.BATCH_EXAMPLES,
    )
    @action(detail=False, methods=["post"])
    def batch(self, request: Request) -> Response:
        serializer_class = BatchUploadSerializer if _is_multipart(request) else BatchBase64Serializer
        serializer = serializer_class(data=request.data)  # multipart: the repeated `images` field is the list
        serializer.is_valid(raise_exception=True)
        results = [
            self._batch_item(index, image, serializer.validated_data["source"])
            for index, image in enumerate(serializer.validated_data["images"])
        ]
        created = sum(1 for r in results if r["status"] == status.HTTP_201_CREATED)
        return Response({"created": created, "failed": len(results) - created, "results": results})

    def _batch_item(self, index: int, image, source: str) -> dict:
        try:
            submission = _predict(user=self.request.user, image=image, source=source)
        except DigitVisionError as exc:
            if exc.status >= status.HTTP_500_INTERNAL_SERVER_ERROR:
                raise  # no image can succeed: the whole batch is unavailable
            return {"index": index, "status": exc.status, "error": error_body(exc.code, str(exc), exc.details)["error"]}
        return {"index": index, "status": status.HTTP_201_CREATED, "prediction": self.get_serializer(submission).data}

    def destroy(self, request: Request, pk: str) -> Response:
        with transaction.atomic():
            submission_delete(submission=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

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
        summary="The original image as it was sent",
        responses=docs.image_responses(docs.ORIGINAL_IMAGE_TYPES, "The original, in the format it was sent in."),
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, ImageRenderer], filterset_class=None)
    def image(self, request: Request, pk: str) -> FileResponse:
        return private_file_response(self.get_object().image)

    @extend_schema(
        summary="A small WebP of the original (at most 192 px a side, upright), for lists",
        responses=docs.image_responses(
            docs.PREVIEW_IMAGE_TYPES, "A WebP; the original itself, in its format, if no preview can be made of it."
        ),
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, ImageRenderer], filterset_class=None)
    def preview(self, request: Request, pk: str) -> FileResponse:
        return private_preview_response(self.get_object())

    @extend_schema(
        summary="The 28x28 model input as a PNG",
        responses=docs.image_responses(docs.INPUT_IMAGE_TYPES, "The 28x28 model input, white ink on black."),
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="input-image",
        renderer_classes=[JSONRenderer, ImageRenderer],
        filterset_class=None,
    )
    def input_image(self, request: Request, pk: str) -> FileResponse:
        return private_file_response(self.get_object().input_image)
