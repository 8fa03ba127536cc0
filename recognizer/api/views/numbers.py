"""API numbers: send images of whole numbers, list, read, correct and delete your own, and fetch their images."""

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from recognizer.api import docs
from recognizer.api.filters import NumberFilter
from recognizer.api.serializers import (
    NumberBase64Serializer,
    NumberBatchResultSerializer,
    NumberCorrectionSerializer,
    NumberSerializer,
    NumberUploadSerializer,
)
from recognizer.api.views._submissions import IMAGE_ACTION, StoredImageViewSet
from recognizer.image_responses import private_file_response
from recognizer.models import Submission
from recognizer.selectors import number_list_for_user
from recognizer.services import number_correct, number_create, number_digit_correct

_POSITION = OpenApiParameter(
    "position", OpenApiTypes.INT, OpenApiParameter.PATH, description="The digit's position, 0 for the leftmost."
)


@extend_schema_view(
    list=extend_schema(
        summary="Your numbers, newest first",
        parameters=[docs.INCLUDE_PARAMETER],
        responses=docs.responses(200, NumberSerializer(many=True), 400, 404),
    ),
    retrieve=extend_schema(
        summary="One of your numbers",
        parameters=[docs.INCLUDE_PARAMETER],
        responses=docs.responses(200, NumberSerializer, 404),
    ),
    destroy=extend_schema(
        summary="Delete a number, its digits and their images (no later retraining uses them)",
        responses=docs.responses(204, None, 404),
    ),
    create=extend_schema(
        summary="Read the number in an image (or say there is none) and keep it, with each digit",
        parameters=[docs.INCLUDE_PARAMETER],
        request=docs.NUMBER_REQUEST,
        responses=docs.responses(201, NumberSerializer, 400, 409, 413, 415, 422, 503),
        examples=docs.NUMBER_EXAMPLES,
    ),
    batch=extend_schema(
        summary="Read the numbers in several images at once; each gets a result or an error",
        parameters=[docs.INCLUDE_PARAMETER],
        request=docs.BATCH_REQUEST,
        responses=docs.responses(200, NumberBatchResultSerializer, 400, 415, 503),
        examples=docs.NUMBER_BATCH_EXAMPLES,
    ),
)
class NumberViewSet(StoredImageViewSet):
    """A person's own numbers (1 to 12 digits each); another person's is a 404, as for predictions."""

    serializer_class = NumberSerializer
    filterset_class = NumberFilter
    upload_serializer_class = NumberUploadSerializer
    base64_serializer_class = NumberBase64Serializer
    batch_key = "number"
    not_found_message = "No such number among yours."

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Submission.objects.none()
        return number_list_for_user(user=self.request.user)

    def store(self, *, image_bytes: bytes, source: str, replaces: int | None = None) -> Submission:
        return number_create(user=self.request.user, image_bytes=image_bytes, source=source, replaces_id=replaces)

    @extend_schema(
        summary="Correct (or confirm) a number: the true number, or one digit of it",
        request=docs.json_body(NumberCorrectionSerializer),
        responses=docs.responses(200, NumberSerializer, 400, 404),
        examples=docs.NUMBER_CORRECTION_EXAMPLES,
    )
    @action(detail=True, methods=["put", "patch"])
    def correction(self, request: Request, pk: str) -> Response:
        submission = self.get_object()
        serializer = NumberCorrectionSerializer(data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        answer = serializer.correction()
        if answer is not None:  # an empty PATCH changes nothing
            correct = number_correct if "true_number" in answer else number_digit_correct
            submission = correct(submission=submission, user=request.user, **answer)
        return Response(self.get_serializer(submission).data)

    @extend_schema(
        summary="The 28x28 model input of one digit as a PNG",
        parameters=[_POSITION],
        responses=docs.image_responses(docs.INPUT_IMAGE_TYPES, "The digit's 28x28 model input, white ink on black."),
    )
    @action(detail=True, url_path=r"digits/(?P<position>\d+)/input-image", **IMAGE_ACTION)
    def digit_input_image(self, request: Request, pk: str, position: str) -> FileResponse:
        sample = self.get_object().digit_samples.filter(position=int(position)).first()
        if sample is None:
            raise Http404("This number has no digit at that position.")
        return private_file_response(sample.input_image)
