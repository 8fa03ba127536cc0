"""What the predictions' and the numbers' endpoints share: the image sent, batches, deletion, the originals."""

from django.db import transaction
from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from recognizer.api import docs
from recognizer.api.errors import error_body
from recognizer.api.renderers import ImageErrorsAsJsonMixin, ImageRenderer
from recognizer.api.serializers import BatchBase64Serializer, BatchUploadSerializer
from recognizer.exceptions import DigitVisionError
from recognizer.image_responses import private_file_response, private_preview_response
from recognizer.models import Submission
from recognizer.request_images import decode_base64_image, read_uploaded_file
from recognizer.services import submission_delete


def image_bytes(value) -> bytes:
    """The bytes of an image sent as a multipart file or as base64 text."""
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


# An action that answers with a file (its error as JSON), and takes no filters.
IMAGE_ACTION = {"methods": ["get"], "renderer_classes": [JSONRenderer, ImageRenderer], "filterset_class": None}


class StoredImageViewSet(
    ImageErrorsAsJsonMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """A person's own stored images of one kind (predictions, numbers); another person's is a 404, never a 403
    that would reveal it exists. Subclasses name their serializers, the service that stores one image
    (``store``) and their documentation."""

    lookup_value_regex = r"\d+"
    upload_serializer_class: type
    base64_serializer_class: type
    batch_key = "prediction"  # each stored result of a batch is under this key
    not_found_message = "No such prediction among yours."

    def store(self, *, image_bytes: bytes, source: str, replaces: int | None = None) -> Submission:
        """Store one image for the requester; a refusal is a DigitVisionError."""
        raise NotImplementedError

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        _include_input(request)  # refuse a bad `include` before doing any work

    def get_object(self) -> Submission:
        try:
            return super().get_object()
        except Http404 as exc:
            raise Http404(self.not_found_message) from exc

    def get_serializer_context(self) -> dict:
        request = getattr(self, "request", None)
        return {**super().get_serializer_context(), "include_input": request is not None and _include_input(request)}

    def _stored(self, *, image, source: str, replaces: int | None = None) -> Submission:
        return self.store(image_bytes=image_bytes(image), source=source, replaces=replaces)

    def create(self, request: Request) -> Response:
        serializer_class = self.upload_serializer_class if _is_multipart(request) else self.base64_serializer_class
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = self._stored(**serializer.validated_data)
        return Response(self.get_serializer(submission).data, status=status.HTTP_201_CREATED)

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
            submission = self._stored(image=image, source=source)
        except DigitVisionError as exc:
            if exc.status >= status.HTTP_500_INTERNAL_SERVER_ERROR:
                raise  # no image can succeed: the whole batch is unavailable
            return {"index": index, "status": exc.status, "error": error_body(exc.code, str(exc), exc.details)["error"]}
        return {"index": index, "status": status.HTTP_201_CREATED, self.batch_key: self.get_serializer(submission).data}

    def destroy(self, request: Request, pk: str) -> Response:
        with transaction.atomic():
            submission_delete(submission=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The original image as it was sent",
        responses=docs.image_responses(docs.ORIGINAL_IMAGE_TYPES, "The original, in the format it was sent in."),
    )
    @action(detail=True, **IMAGE_ACTION)
    def image(self, request: Request, pk: str) -> FileResponse:
        return private_file_response(self.get_object().image)

    @extend_schema(
        summary="A small WebP of the original (at most 192 px a side, upright), for lists",
        responses=docs.image_responses(
            docs.PREVIEW_IMAGE_TYPES, "A WebP; the original itself, in its format, if no preview can be made of it."
        ),
    )
    @action(detail=True, **IMAGE_ACTION)
    def preview(self, request: Request, pk: str) -> FileResponse:
        return private_preview_response(self.get_object())
