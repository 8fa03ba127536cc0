"""API for staff: the review queue, curating corrections, the model versions (rollback) and retraining runs."""

from django.db import transaction
from django.http import FileResponse, Http404
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAdminUser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from recognizer.api import docs
from recognizer.api.filters import CorrectionFilter
from recognizer.api.renderers import ImageErrorsAsJsonMixin, ImageRenderer
from recognizer.api.serializers import (
    ActivateSerializer,
    CorrectionReviewSerializer,
    CorrectionSerializer,
    ModelVersionDetailSerializer,
    ModelVersionSerializer,
    ReviewedCorrectionSerializer,
    ReviewItemSerializer,
    TrainingRunDetailSerializer,
    TrainingRunSerializer,
)
from recognizer.image_responses import private_preview_response
from recognizer.selectors import (
    model_version_list,
    submission_corrections_for_review,
    submission_review_queue,
    training_run_list,
)
from recognizer.services import (
    model_version_rollback,
    submission_correct,
    submission_set_training_use,
)
from recognizer.services.training_runs import training_run_cancel, training_run_start


class StaffPreviewMixin(ImageErrorsAsJsonMixin):
    """A `preview` image of each item, for staff: here, not under /predictions/, which are the requester's own
    while staff look at everyone's."""

    filterset_class = None  # a viewset's own filters, if any; the image takes none

    @extend_schema(
        summary="A small WebP of the image (staff): the `preview` link of an item",
        responses=docs.image_responses(
            docs.PREVIEW_IMAGE_TYPES, "A WebP; the original itself, in its format, if no preview can be made of it."
        ),
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, ImageRenderer], filterset_class=None)
    def preview(self, request: Request, pk: str) -> FileResponse:
        return private_preview_response(self.get_object())


@extend_schema_view(
    list=extend_schema(
        summary="The review queue (staff): everyone's predictions nobody has corrected, refused ones first, then "
        "the least sure, oldest first",
        responses=docs.responses(200, ReviewItemSerializer(many=True), 400, 404),
        examples=docs.REVIEW_QUEUE_EXAMPLES,
    ),
)
class ReviewQueueViewSet(StaffPreviewMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Predictions nobody has corrected, for staff to label: each label is a staff correction, which retraining
    learns from and the person's history shows as such; others get 403."""

    serializer_class = ReviewItemSerializer
    permission_classes = [IsAdminUser]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return submission_review_queue()

    def get_object(self):
        try:
            return super().get_object()
        except Http404 as exc:
            raise Http404("No such prediction in the review queue: it may have been labelled meanwhile.") from exc

    @extend_schema(
        summary="Label a prediction of the queue (staff): its true digit, or not a digit; it leaves the queue",
        request=docs.json_body(CorrectionSerializer),
        responses=docs.responses(200, ReviewedCorrectionSerializer, 400, 404),
        examples=docs.REVIEW_LABEL_EXAMPLES,
    )
    @action(detail=True, methods=["put"])
    def label(self, request: Request, pk: str) -> Response:
        submission = self.get_object()
        serializer = CorrectionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = submission_correct(submission=submission, user=request.user, **serializer.correction())
        # Now a correction: answered as the Corrections endpoint shows it, with who set it.
        return Response(ReviewedCorrectionSerializer(submission, context=self.get_serializer_context()).data)


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
        summary="Leave a correction out of retraining, use it again, or set the right digit or not a digit (staff)",
        request=docs.json_body(CorrectionReviewSerializer),
        responses=docs.responses(200, ReviewedCorrectionSerializer, 400, 404),
        examples=docs.CORRECTION_REVIEW_EXAMPLES,
    ),
)
class CorrectionViewSet(StaffPreviewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
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
        answer = serializer.correction()
        with transaction.atomic():
            if answer is not None:
                submission = submission_correct(submission=submission, user=request.user, **answer)
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
        request=docs.json_body(ActivateSerializer),
        responses=docs.responses(200, ModelVersionSerializer, 404, 409),
    )
    @action(detail=True, methods=["post"], permission_classes=[IsAdminUser])
    def activate(self, request: Request, pk: str) -> Response:
        serializer = ActivateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = self.get_object()
        version = model_version_rollback(version=version, by=request.user, **serializer.validated_data)
        return Response(ModelVersionSerializer(version, context=self.get_serializer_context()).data)


@extend_schema_view(
    list=extend_schema(
        summary="Training runs, newest first (staff)",
        responses=docs.responses(200, TrainingRunSerializer(many=True), 404),
    ),
    retrieve=extend_schema(
        summary="One training run: poll it for live progress, then its verdict and what it learnt (staff)",
        responses=docs.responses(200, TrainingRunDetailSerializer, 404),
    ),
)
class TrainingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Retrain the model from people's corrections, one run at a time; staff only (others get 403)."""

    serializer_class = TrainingRunSerializer
    permission_classes = [IsAdminUser]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return training_run_list()  # runs whose worker died are failed by the beat task, not here

    def get_serializer_class(self):
        return TrainingRunDetailSerializer if self.action == "retrieve" else TrainingRunSerializer

    @extend_schema(
        summary="Start a retraining (staff); answers at once, poll the run for progress",
        request=None,
        responses=docs.responses(202, TrainingRunSerializer, 409, 422, 503),
    )
    def create(self, request: Request) -> Response:
        run = training_run_start(requested_by=request.user)  # refusals carry their own code and status
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Cancel a queued or running retraining (staff); nothing is promoted",
        request=None,
        responses=docs.responses(200, TrainingRunSerializer, 404, 409),
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        run = training_run_cancel(run=self.get_object(), by=request.user)
        return Response(self.get_serializer(run).data)
