"""API views: authenticate, validate with serializers, then call services and selectors; nothing more."""

from django.db import transaction
from django.http import FileResponse, Http404
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recognizer.api import docs
from recognizer.api.errors import ApiError, error_body
from recognizer.api.filters import CorrectionFilter, PredictionFilter
from recognizer.api.renderers import ImageRenderer
from recognizer.api.serializers import (
    AccountDeleteSerializer,
    ActivateSerializer,
    BatchBase64Serializer,
    BatchResultSerializer,
    BatchUploadSerializer,
    CorrectionReviewSerializer,
    CorrectionSerializer,
    ModelVersionDetailSerializer,
    ModelVersionSerializer,
    PredictionBase64Serializer,
    PredictionSerializer,
    PredictionUploadSerializer,
    ReviewedCorrectionSerializer,
    TokenSerializer,
    TrainingRunSerializer,
)
from recognizer.api.throttling import AuthThrottle
from recognizer.exceptions import (
    DigitVisionError,
    ModelWeightsError,
    TrainingError,
    TrainingInProgressError,
    TrainingQueueUnavailableError,
)
from recognizer.image_responses import private_file_response, private_preview_response
from recognizer.models import Submission
from recognizer.request_images import decode_base64_image, read_uploaded_file
from recognizer.selectors import (
    model_version_list,
    submission_corrections_for_review,
    submission_list_for_user,
    training_run_list,
)
from recognizer.services import (
    account_delete,
    model_version_rollback,
    submission_correct,
    submission_create,
    submission_delete,
    submission_set_training_use,
)
from recognizer.services.training_runs import training_run_cancel, training_run_start


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


class AuthTokenView(APIView):
    """Exchange a username and password for an API token; DELETE revokes the token in use."""

    throttle_classes = [AuthThrottle]

    def _is_post(self) -> bool:
        return getattr(getattr(self, "request", None), "method", None) == "POST"

    def get_authenticators(self):
        # POST carries credentials, so no session (and no CSRF) is involved; DELETE needs the token itself.
        return [] if self._is_post() else super().get_authenticators()

    def get_permissions(self):
        return [AllowAny()] if self._is_post() else super().get_permissions()

    @extend_schema(
        request=AuthTokenSerializer,
        responses={200: TokenSerializer, 400: docs.ERROR, 429: docs.ERROR},
        examples=docs.TOKEN_EXAMPLES,
        auth=[],
        summary="Get an API token",
    )
    def post(self, request: Request) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"token": token.key})

    @extend_schema(responses={204: None, 401: docs.ERROR, 429: docs.ERROR}, summary="Revoke your API token")
    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountDeleteView(APIView):
    """Delete your account and everything you sent (predictions, images, token), after your password again."""

    throttle_classes = [AuthThrottle]  # a password check: as slow to guess as a token request

    @extend_schema(
        request=AccountDeleteSerializer,
        responses=docs.responses(204, None, 400),
        summary="Delete your account and all you sent",
    )
    def post(self, request: Request) -> Response:
        serializer = AccountDeleteSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        account_delete(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


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
class PredictionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
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

    def finalize_response(self, request: Request, response, *args, **kwargs):
        # An error from an image endpoint is JSON even when the client asked for an image.
        if isinstance(response, Response) and isinstance(getattr(request, "accepted_renderer", None), ImageRenderer):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def get_object(self) -> Submission:
        try:
            return super().get_object()
        except Http404 as exc:
            raise Http404("No such prediction among yours.") from exc

    def get_serializer_context(self) -> dict:
        request = getattr(self, "request", None)
        return {**super().get_serializer_context(), "include_input": request is not None and _include_input(request)}

    @extend_schema(
        summary="Predict the digit in an image and keep it in your history",
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
        summary="Correct (or confirm) a prediction",
        request=CorrectionSerializer,
        responses=docs.responses(200, PredictionSerializer, 400, 404),
        examples=docs.CORRECTION_EXAMPLES,
    )
    @action(detail=True, methods=["put", "patch"])
    def correction(self, request: Request, pk: str) -> Response:
        submission = self.get_object()
        serializer = CorrectionSerializer(data=request.data, partial=request.method == "PATCH")
        serializer.is_valid(raise_exception=True)
        if "true_digit" in serializer.validated_data:  # an empty PATCH changes nothing
            submission = submission_correct(
                submission=submission, user=request.user, digit=serializer.validated_data["true_digit"]
            )
        return Response(self.get_serializer(submission).data)

    @extend_schema(summary="The original image as it was sent", responses=docs.image_responses())
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, ImageRenderer], filterset_class=None)
    def image(self, request: Request, pk: str) -> FileResponse:
        return private_file_response(self.get_object().image)

    @extend_schema(
        summary="A small WebP of the original (at most 192 px a side, upright), for lists",
        responses=docs.image_responses(),
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, ImageRenderer], filterset_class=None)
    def preview(self, request: Request, pk: str) -> FileResponse:
        return private_preview_response(self.get_object())

    @extend_schema(summary="The 28x28 model input as a PNG", responses=docs.image_responses())
    @action(
        detail=True,
        methods=["get"],
        url_path="input-image",
        renderer_classes=[JSONRenderer, ImageRenderer],
        filterset_class=None,
    )
    def input_image(self, request: Request, pk: str) -> FileResponse:
        return private_file_response(self.get_object().input_image)


@extend_schema_view(
    list=extend_schema(
        summary="Everyone's corrections, newest first (staff)",
        responses=docs.responses(200, ReviewedCorrectionSerializer(many=True), 400, 404),
    ),
    retrieve=extend_schema(
        summary="One correction (staff)",
        responses=docs.responses(200, ReviewedCorrectionSerializer, 404),
    ),
    partial_update=extend_schema(
        summary="Leave a correction out of retraining, use it again, or set the right digit (staff)",
        request=CorrectionReviewSerializer,
        responses=docs.responses(200, ReviewedCorrectionSerializer, 400, 404),
    ),
)
class CorrectionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """People's corrections, which retraining learns from, for staff to curate; others get 403."""

    serializer_class = ReviewedCorrectionSerializer
    permission_classes = [IsAdminUser]
    filterset_class = CorrectionFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return submission_corrections_for_review()

    def partial_update(self, request: Request, pk: str) -> Response:
        submission = self.get_object()
        serializer = CorrectionReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = serializer.validated_data
        with transaction.atomic():
            if "corrected_digit" in changes:
                submission = submission_correct(
                    submission=submission, user=request.user, digit=changes["corrected_digit"]
                )
            if "excluded_from_training" in changes:
                use = not changes["excluded_from_training"]
                submission = submission_set_training_use(submission=submission, user=request.user, use=use)
        return Response(self.get_serializer(submission).data)


@extend_schema_view(
    list=extend_schema(
        summary="Model versions, newest first; `is_active` marks the one serving",
        responses=docs.responses(200, ModelVersionSerializer(many=True), 400, 404),
    ),
    retrieve=extend_schema(
        summary="One model version with its full evaluation report",
        responses=docs.responses(200, ModelVersionDetailSerializer, 404),
    ),
)
class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Every model version; staff can make an earlier one active again (a recorded rollback)."""

    serializer_class = ModelVersionSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return model_version_list()

    def get_serializer_class(self):
        return ModelVersionDetailSerializer if self.action == "retrieve" else ModelVersionSerializer

    @extend_schema(
        summary="Make this version the serving one (staff): a recorded rollback",
        request=ActivateSerializer,
        responses=docs.responses(200, ModelVersionSerializer, 404, 409),
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAdminUser])
    def activate(self, request: Request, pk: str) -> Response:
        serializer = ActivateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = self.get_object()
        try:
            version = model_version_rollback(version=version, by=request.user, **serializer.validated_data)
        except ModelWeightsError as exc:
            raise ApiError(code="model_weights_invalid", message=str(exc), status_code=409) from exc
        return Response(ModelVersionSerializer(version, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(
        summary="Training runs, newest first (staff)",
        responses=docs.responses(200, TrainingRunSerializer(many=True), 404),
    ),
    retrieve=extend_schema(
        summary="One training run: poll it for live progress, then its verdict (staff)",
        responses=docs.responses(200, TrainingRunSerializer, 404),
    ),
)
class TrainingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Retrain the model from people's corrections, one run at a time; staff only (others get 403)."""

    serializer_class = TrainingRunSerializer
    permission_classes = [IsAdminUser]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return training_run_list()  # runs whose worker died are failed by the beat task, not here

    @extend_schema(
        summary="Start a retraining (staff); answers at once, poll the run for progress",
        request=None,
        responses=docs.responses(202, TrainingRunSerializer, 409, 422, 503),
    )
    def create(self, request: Request) -> Response:
        try:
            run = training_run_start(requested_by=request.user)
        except TrainingInProgressError as exc:
            raise ApiError(code=exc.code, message=str(exc), status_code=409, details={"run": exc.run.pk}) from exc
        except TrainingQueueUnavailableError as exc:
            raise ApiError(code=exc.code, message=str(exc), status_code=503, details={"run": exc.run.pk}) from exc
        except TrainingError as exc:  # training_not_possible (422) or a race with a finishing run (409)
            raise ApiError(code=exc.code, message=str(exc), status_code=exc.status) from exc
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Cancel a queued or running retraining (staff); nothing is promoted",
        request=None,
        responses=docs.responses(200, TrainingRunSerializer, 404, 409),
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        try:
            run = training_run_cancel(run=self.get_object(), by=request.user)
        except TrainingError as exc:
            raise ApiError(code="not_in_progress", message=str(exc), status_code=409) from exc
        return Response(self.get_serializer(run).data)
