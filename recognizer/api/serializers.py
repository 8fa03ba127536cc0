"""Request and response shapes of the API; they validate and present, services and selectors do the work."""

from typing import get_args

from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ml.report import CorrectionOutcome, DigitChange, ModelFigures, ModelMetrics, Outcome, Part
from recognizer.models import MAX_NUMBER_DIGITS, DigitSample, ModelVersion, Submission, TrainingRun
from recognizer.selectors import digit_sample_input_pixels, submission_input_pixels

# --------------------------------------------------------------------------- errors (documentation only)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: e.g. invalid, no_digit, too_large, not_found.")
    message = serializers.CharField(help_text="For people: what went wrong and what to do.")
    details = serializers.DictField(help_text="Field errors for `invalid`, `retry_after` seconds for `throttled`.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --------------------------------------------------------------------------- predictions


class PredictionLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    image = serializers.CharField(help_text="The original image as sent.")
    preview = serializers.CharField(help_text="A small WebP of the original, for lists.")
    input_image = serializers.CharField(help_text="The 28x28 model input as a PNG.")
    correction = serializers.CharField(help_text="PUT or PATCH the true digit, or that it is not a digit, here.")


def _input_rows() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField(), min_length=28, max_length=28),
        min_length=28,
        max_length=28,
        allow_null=True,
        help_text="The 28x28 model input, rows of floats in [0, 1] (ink high), with `?include=input`; else null.",
    )


_REASON_HELP = (
    "Why it is not a digit: `not a digit` (a letter, a scribble, a shape) or `looks like several digits`; "
    "empty for a digit."
)


class PredictionSerializer(serializers.ModelSerializer):
    """A stored prediction: a digit, or `not_a_digit` (then `digit` and `confidence` are null, and `reason`,
    `closest_digit` and `closest_probability` say why and how near it came). `input` (28x28 floats) only
    when asked for with `?include=input`."""

    digit = serializers.IntegerField(
        source="predicted_digit", min_value=0, max_value=9, allow_null=True, help_text="Null when not a digit."
    )
    confidence = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        allow_null=True,
        help_text="Calibrated probability of `digit`; null when not a digit.",
    )
    not_a_digit = serializers.BooleanField(help_text="The model says the ink is not one digit.")
    reason = serializers.CharField(source="refusal_reason", help_text=_REASON_HELP)
    closest_digit = serializers.IntegerField(
        min_value=0, max_value=9, help_text="The most probable digit: `digit` itself, or the nearest for not a digit."
    )
    closest_probability = serializers.FloatField(
        min_value=0.0, max_value=1.0, help_text="Its probability: `confidence` itself for a digit."
    )
    probabilities = serializers.ListField(
        child=serializers.FloatField(min_value=0.0, max_value=1.0),
        min_length=10,
        max_length=10,
        help_text="Probability of each digit 0-9; they sum to 1.",
    )
    model_version = serializers.SlugRelatedField(slug_field="name", read_only=True)
    corrected_digit = serializers.IntegerField(
        min_value=0, max_value=9, allow_null=True, help_text="The digit it was corrected to, if any."
    )
    corrected_not_a_digit = serializers.BooleanField(help_text="Corrected to (or confirmed as) not a digit.")
    true_digit = serializers.IntegerField(
        min_value=0,
        max_value=9,
        allow_null=True,
        help_text="The corrected digit if any, else `digit`; null when the true answer is not a digit.",
    )
    true_not_a_digit = serializers.BooleanField(
        help_text="The true answer is not a digit: the correction says so, or, uncorrected, the model did."
    )
    is_corrected = serializers.BooleanField()
    corrected_by_staff = serializers.BooleanField(
        help_text="Corrected by staff (the review queue), not by you; false when uncorrected or your own."
    )
    input = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id",
            "digit",
            "confidence",
            "not_a_digit",
            "reason",
            "closest_digit",
            "closest_probability",
            "probabilities",
            "model_version",
            "source",
            "created_at",
            "corrected_digit",
            "corrected_not_a_digit",
            "corrected_at",
            "true_digit",
            "true_not_a_digit",
            "is_corrected",
            "corrected_by_staff",
            "input",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(_input_rows())
    def get_input(self, submission: Submission) -> list[list[float]] | None:
        # Only read from storage when asked for: listing a page of predictions stays cheap.
        return submission_input_pixels(submission=submission) if self.context.get("include_input") else None

    @extend_schema_field(PredictionLinksSerializer)
    def get_links(self, submission: Submission) -> dict:
        url = _url_maker(self.context, "prediction", submission.pk)
        return {
            "self": url("detail"),
            "image": url("image"),
            "preview": url("preview"),
            "input_image": url("input-image"),
            "correction": url("correction"),
        }


def _url_maker(context: dict, basename: str, pk: int):
    """url(name, *more): the absolute URL (relative without a request) of the API route `basename-name`."""

    def url(name: str, *more) -> str:
        path = reverse(f"api:{basename}-{name}", args=[pk, *more])
        request = context.get("request")
        return request.build_absolute_uri(path) if request else path

    return url


# An image comes as a multipart file or, in JSON, as base64 / a data URL: one serializer for each body type.
# Empty files and blank strings pass here so that, like any unreadable image, they get the service's error.
_IMAGE_FILE_HELP = "The image file: PNG, JPEG, HEIC, AVIF, WebP, GIF (first frame), BMP or TIFF."
_IMAGE_TEXT_HELP = "The image as base64, or a data URL like canvas.toDataURL() makes."


def _image_file() -> serializers.FileField:
    return serializers.FileField(allow_empty_file=True, help_text=_IMAGE_FILE_HELP)


class _StrictCharField(serializers.CharField):
    # DRF's CharField turns a number into text; an image sent as a number is a client's mistake.
    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _image_text() -> serializers.CharField:
    return _StrictCharField(allow_blank=True, trim_whitespace=False, help_text=_IMAGE_TEXT_HELP)


class _SourceField(serializers.ChoiceField):
    def get_value(self, dictionary):
        # In a multipart body DRF reads an empty value as "not given" (HTML forms); here it is a wrong value.
        if self.field_name in dictionary and dictionary.get(self.field_name) == "":
            return ""
        return super().get_value(dictionary)


def _source() -> serializers.ChoiceField:
    return _SourceField(choices=Submission.Source.choices, default=Submission.Source.API)


def _replaces(what: str = "prediction") -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        min_value=1,
        help_text=f"The id of your earlier, uncorrected {what} of the same drawing: it is deleted when this one "
        "is stored, in the same transaction, so a drawing predicted after every stroke is kept once. Any other id "
        "(someone else's, corrected or gone) is refused with 409 `not_replaceable` and nothing is stored.",
    )


class PredictionUploadSerializer(serializers.Serializer):
    image = _image_file()
    source = _source()
    replaces = _replaces()


class PredictionBase64Serializer(serializers.Serializer):
    image = _image_text()
    source = _source()
    replaces = _replaces()


class _BatchLimit:
    def validate_images(self, images: list) -> list:
        limit = settings.DIGITVISION_API_MAX_BATCH
        if len(images) > limit:
            raise serializers.ValidationError(f"At most {limit} images per batch; this one has {len(images)}.")
        return images


class BatchUploadSerializer(_BatchLimit, serializers.Serializer):
    images = serializers.ListField(child=_image_file(), min_length=1, help_text="Repeat the field once per image.")
    source = _source()


class BatchBase64Serializer(_BatchLimit, serializers.Serializer):
    images = serializers.ListField(child=_image_text(), min_length=1, help_text="base64 strings or data URLs.")
    source = _source()


class BatchItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the image in the request.")
    status = serializers.IntegerField(help_text="What a single request for this image would have answered.")
    prediction = PredictionSerializer(required=False, help_text="Present when status is 201.")
    error = ErrorDetailSerializer(required=False, help_text="Present otherwise; nothing was stored for it.")


class BatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BatchItemSerializer(many=True)


def _one_answer(attrs: dict, *, digit_field: str, not_a_digit_field: str, partial: bool) -> dict:
    """A correction names one answer: a digit (0-9) or "not a digit" (true). False alone says nothing (to say it
    is a digit, send the digit); an empty PATCH changes nothing."""
    not_a_digit = attrs.get(not_a_digit_field, False)
    if digit_field in attrs and not_a_digit:
        raise serializers.ValidationError(
            {not_a_digit_field: [f"Send `{digit_field}` or `{not_a_digit_field}: true`, not both."]}
        )
    if digit_field not in attrs and not not_a_digit and (not partial or not_a_digit_field in attrs):
        # Named after the digit, as "this field is required" was before "not a digit" existed.
        raise serializers.ValidationError(
            {digit_field: [f"This field is required, unless you send `{not_a_digit_field}: true` instead."]}
        )
    return attrs


def correction_arguments(attrs: dict, *, digit_field: str, not_a_digit_field: str) -> dict | None:
    """Keyword arguments for submission_correct from a validated correction; None when it names no answer."""
    if attrs.get(not_a_digit_field):
        return {"not_a_digit": True}
    if digit_field in attrs:
        return {"digit": attrs[digit_field]}
    return None


class CorrectionSerializer(serializers.Serializer):
    """The true answer, exactly one: `true_digit`, or `not_a_digit: true`. The model's own answer confirms it."""

    FIELDS = {"digit_field": "true_digit", "not_a_digit_field": "not_a_digit"}

    true_digit = serializers.IntegerField(
        min_value=0,
        max_value=9,
        required=False,
        help_text="The digit really written; send the predicted digit to confirm it.",
    )
    not_a_digit = serializers.BooleanField(
        required=False,
        help_text="`true`: it is not a digit (for a prediction the model refused, this confirms it). "
        "Instead of `true_digit`, never with it.",
    )

    def validate(self, attrs: dict) -> dict:
        return _one_answer(attrs, **self.FIELDS, partial=self.partial)

    def correction(self) -> dict | None:
        """Keyword arguments for submission_correct; None for an empty PATCH."""
        return correction_arguments(self.validated_data, **self.FIELDS)


# --------------------------------------------------------------------------- numbers


class _NumberTextField(serializers.CharField):
    """A number as text (digits, leading zeros kept); null where the row has none (empty)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("validators", [RegexValidator(rf"^[0-9]{{1,{MAX_NUMBER_DIGITS}}}$")])
        super().__init__(allow_null=True, read_only=True, **kwargs)

    def to_representation(self, value: str | None) -> str | None:
        return value or None


class NumberDigitLinksSerializer(serializers.Serializer):
    input_image = serializers.CharField(help_text="The digit's 28x28 model input as a PNG.")


class NumberDigitSerializer(serializers.ModelSerializer):
    """One digit of a number, left to right from `position` 0."""

    position = serializers.IntegerField(min_value=0, help_text="0 for the leftmost digit.")
    digit = serializers.IntegerField(source="predicted_digit", min_value=0, max_value=9, help_text="The digit read.")
    confidence = serializers.FloatField(min_value=0.0, max_value=1.0, help_text="Calibrated probability of `digit`.")
    probabilities = serializers.ListField(
        child=serializers.FloatField(min_value=0.0, max_value=1.0),
        min_length=10,
        max_length=10,
        help_text="Probability of each digit 0-9; they sum to 1.",
    )
    box = serializers.ListField(
        child=serializers.IntegerField(min_value=0),
        min_length=4,
        max_length=4,
        help_text="Where the digit is in the original image: [x, y, width, height] in its pixels.",
    )
    refused = serializers.BooleanField(help_text="Alone, this ink would be refused as not a digit.")
    corrected_digit = serializers.IntegerField(
        min_value=0,
        max_value=9,
        allow_null=True,
        help_text="Its true digit, once the number was corrected with as many digits as were found.",
    )
    true_digit = serializers.IntegerField(min_value=0, max_value=9, help_text="`corrected_digit` if any, else `digit`.")
    input = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = DigitSample
        fields = [
            "position",
            "digit",
            "confidence",
            "probabilities",
            "box",
            "refused",
            "corrected_digit",
            "true_digit",
            "input",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(_input_rows())
    def get_input(self, sample: DigitSample) -> list[list[float]] | None:
        return digit_sample_input_pixels(sample=sample) if self.context.get("include_input") else None

    @extend_schema_field(NumberDigitLinksSerializer)
    def get_links(self, sample: DigitSample) -> dict:
        url = _url_maker(self.context, "number", sample.submission_id)
        return {"input_image": url("digit-input-image", sample.position)}


class NumberLinksSerializer(serializers.Serializer):
    self = serializers.CharField()
    image = serializers.CharField(help_text="The original image as sent.")
    preview = serializers.CharField(help_text="A small WebP of the original, for lists.")
    correction = serializers.CharField(help_text="PUT or PATCH the true number, or one digit, here.")


class NumberSerializer(serializers.ModelSerializer):
    """A stored number: the digits read (`number`, leading zeros kept) with the whole number's confidence and
    each digit, left to right; or `not_a_number` (then `number` and `confidence` are null and `reason` says
    why). Each digit's `input` (28x28 floats) only when asked for with `?include=input`."""

    number = _NumberTextField(help_text="The number read, e.g. `0427`; null when not a number.")
    confidence = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        allow_null=True,
        help_text="Calibrated probability that the whole number is right; null when not a number.",
    )
    not_a_number = serializers.BooleanField(help_text="The ink holds no digit that could make a number.")
    reason = serializers.CharField(source="refusal_reason", help_text="Why it is not a number; empty for a number.")
    digits = NumberDigitSerializer(source="digit_samples", many=True, help_text="The digits found, left to right.")
    model_version = serializers.SlugRelatedField(slug_field="name", read_only=True)
    corrected_number = _NumberTextField(help_text="The true number it was corrected to, if any.")
    segmentation_wrong = serializers.BooleanField(
        help_text="The true number has another count of digits than were found: no digit was corrected."
    )
    true_number = _NumberTextField(help_text="`corrected_number` if any, else `number`.")
    is_corrected = serializers.BooleanField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Submission
        fields = [
            "id",
            "number",
            "confidence",
            "not_a_number",
            "reason",
            "digits",
            "model_version",
            "source",
            "created_at",
            "corrected_number",
            "segmentation_wrong",
            "corrected_at",
            "true_number",
            "is_corrected",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(NumberLinksSerializer)
    def get_links(self, submission: Submission) -> dict:
        url = _url_maker(self.context, "number", submission.pk)
        return {
            "self": url("detail"),
            "image": url("image"),
            "preview": url("preview"),
            "correction": url("correction"),
        }


class NumberUploadSerializer(PredictionUploadSerializer):
    replaces = _replaces("number")


class NumberBase64Serializer(PredictionBase64Serializer):
    replaces = _replaces("number")


class NumberBatchItemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the image in the request.")
    status = serializers.IntegerField(help_text="What a single request for this image would have answered.")
    number = NumberSerializer(required=False, help_text="Present when status is 201.")
    error = ErrorDetailSerializer(required=False, help_text="Present otherwise; nothing was stored for it.")


class NumberBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = NumberBatchItemSerializer(many=True)


class NumberCorrectionSerializer(serializers.Serializer):
    """The true number (`true_number`), or one digit of it (`position` with `true_digit`): one of the two."""

    true_number = _StrictCharField(
        required=False,
        allow_blank=True,
        help_text=f"The number really written, 1 to {MAX_NUMBER_DIGITS} digits, leading zeros kept (e.g. `0427`); "
        "send what was read to confirm it. With another count of digits than were found, no digit is corrected "
        "and `segmentation_wrong` is set.",
    )
    position = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_NUMBER_DIGITS - 1,
        help_text="With `true_digit`: which digit to set, 0 for the leftmost; the others are confirmed.",
    )
    true_digit = serializers.IntegerField(
        required=False, min_value=0, max_value=9, help_text="With `position`: the digit really written there."
    )

    def validate(self, attrs: dict) -> dict:
        one_digit = {"position", "true_digit"} & set(attrs)
        if "true_number" in attrs and one_digit:
            raise serializers.ValidationError(
                {"true_number": ["Send `true_number`, or `position` with `true_digit`, not both."]}
            )
        if len(one_digit) == 1:
            missing = ({"position", "true_digit"} - one_digit).pop()
            raise serializers.ValidationError({missing: ["Send `position` and `true_digit` together."]})
        if not attrs and not self.partial:
            raise serializers.ValidationError(
                {"true_number": ["This field is required, unless you send `position` with `true_digit` instead."]}
            )
        return attrs

    def correction(self) -> dict | None:
        """Keyword arguments for number_correct (`true_number`) or number_digit_correct (`position`, `digit`);
        None for an empty PATCH."""
        attrs = self.validated_data
        if "true_number" in attrs:
            return {"true_number": attrs["true_number"]}
        if "position" in attrs:
            return {"position": attrs["position"], "digit": attrs["true_digit"]}
        return None


# --------------------------------------------------------------------------- curation (staff)


class _StaffSubmissionSerializer(serializers.ModelSerializer):
    """Someone's single digit as staff see it: whose it is, what the model said, and a preview staff may fetch
    under their endpoint (``route_basename``): /predictions/{id}/preview/ is the requester's own only, a 404 for
    anyone else's."""

    route_basename: str
    FIELDS = ["id", "person", "predicted_digit", "confidence", "not_a_digit", "reason"]

    person = serializers.CharField(source="user.get_username", read_only=True)
    # Plain integers, as in predictions (a choice field would name the 0-9 choice set twice in the schema).
    predicted_digit = serializers.IntegerField(
        min_value=0, max_value=9, read_only=True, allow_null=True, help_text="Null when the model said not a digit."
    )
    confidence = serializers.FloatField(min_value=0.0, max_value=1.0, read_only=True, allow_null=True)
    not_a_digit = serializers.BooleanField(read_only=True, help_text="The model said not a digit.")
    reason = serializers.CharField(source="refusal_reason", read_only=True, help_text=_REASON_HELP)
    preview = serializers.SerializerMethodField(help_text="A small WebP of the original.")

    def get_preview(self, submission: Submission) -> str:
        return _url_maker(self.context, self.route_basename, submission.pk)("preview")


class ReviewedCorrectionSerializer(_StaffSubmissionSerializer):
    """A person's correction as staff curate it."""

    route_basename = "correction"

    corrected_digit = serializers.IntegerField(
        min_value=0, max_value=9, read_only=True, allow_null=True, help_text="Null when corrected to not a digit."
    )
    corrected_not_a_digit = serializers.BooleanField(read_only=True, help_text="Corrected to not a digit.")
    corrected_by = serializers.CharField(source="corrected_by.get_username", read_only=True, allow_null=True)

    class Meta:
        model = Submission
        fields = [
            *_StaffSubmissionSerializer.FIELDS,
            "corrected_digit",
            "corrected_not_a_digit",
            "corrected_by",
            "corrected_at",
            "excluded_from_training",
            "preview",
        ]
        read_only_fields = fields


class ReviewItemSerializer(_StaffSubmissionSerializer):
    """A prediction nobody has corrected, in the staff review queue: label it at `label`."""

    route_basename = "review"

    closest_digit = serializers.IntegerField(
        min_value=0, max_value=9, read_only=True, help_text="The most probable digit: the nearest for not a digit."
    )
    closest_probability = serializers.FloatField(min_value=0.0, max_value=1.0, read_only=True)
    model_version = serializers.SlugRelatedField(slug_field="name", read_only=True)
    label = serializers.SerializerMethodField(help_text="PUT the true digit, or that it is not a digit, here.")

    class Meta:
        model = Submission
        fields = [
            *_StaffSubmissionSerializer.FIELDS,
            "closest_digit",
            "closest_probability",
            "model_version",
            "source",
            "created_at",
            "preview",
            "label",
        ]
        read_only_fields = fields

    def get_label(self, submission: Submission) -> str:
        return _url_maker(self.context, self.route_basename, submission.pk)("label")


class CorrectionReviewSerializer(serializers.Serializer):
    """What staff may change: whether retraining uses the correction, and the answer itself (a digit, or not a
    digit: one of the two)."""

    excluded_from_training = serializers.BooleanField(required=False, help_text="true: retraining leaves it out.")
    corrected_digit = serializers.IntegerField(
        min_value=0, max_value=9, required=False, help_text="The right digit, set by staff."
    )
    corrected_not_a_digit = serializers.BooleanField(
        required=False,
        help_text="`true`: it is not a digit, set by staff. Instead of `corrected_digit`, never with it.",
    )

    FIELDS = {"digit_field": "corrected_digit", "not_a_digit_field": "corrected_not_a_digit"}

    def validate(self, attrs: dict) -> dict:
        # Every field is optional here (staff may only change the training use), so it reads as a PATCH.
        return _one_answer(attrs, **self.FIELDS, partial=True)

    def correction(self) -> dict | None:
        """Keyword arguments for submission_correct; None when only the training use changes."""
        return correction_arguments(self.validated_data, **self.FIELDS)


# --------------------------------------------------------------------------- model versions

# The headline figures of a model's evaluation report; the detail endpoint returns the whole report.
METRIC_SUMMARY_KEYS = (
    "test_accuracy",
    "val_accuracy",
    "test_ece_before_scaling",
    "test_ece_after_scaling",
    "temperature",
    "parameters",
    "selected_epoch",
)


class ModelVersionSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    metrics = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = ["id", "name", "sha256", "is_active", "parent", "created_at", "created_by", "metrics"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_metrics(self, version: ModelVersion) -> dict:
        metrics = ModelMetrics.from_dict(version.metrics).to_dict() if version.metrics else {}  # any stored shape
        return {key: metrics[key] for key in ("schema", *METRIC_SUMMARY_KEYS) if key in metrics}


class ModelVersionDetailSerializer(ModelVersionSerializer):
    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_metrics(self, version: ModelVersion) -> dict:
        return ModelMetrics.from_dict(version.metrics).to_dict() if version.metrics else {}


# --------------------------------------------------------------------------- auth


class AccountDeleteSerializer(serializers.Serializer):
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, help_text="Your password again: deleting an account is for good."
    )

    def validate_password(self, password: str) -> str:
        if not self.context["request"].user.check_password(password):
            raise serializers.ValidationError("That is not your password.")
        return password


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")


# --------------------------------------------------------------------------- training runs


class TrainingRunSerializer(serializers.ModelSerializer):
    """A retraining: its state and live progress, then the figures behind its verdict."""

    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    base_version = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    candidate_version = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    is_in_progress = serializers.BooleanField()
    duration_seconds = serializers.FloatField(allow_null=True)
    log = serializers.ListField(child=serializers.CharField())
    plots = serializers.SerializerMethodField()
    # Rows of any age come out in ml.report's current shape (ModelFigures, DigitChange), same keys as before.
    active_metrics = serializers.SerializerMethodField()
    candidate_metrics = serializers.SerializerMethodField()
    per_class = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "state",
            "is_in_progress",
            "progress",
            "step",
            "reason",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
            "base_version",
            "candidate_version",
            "train_samples",
            "selection_samples",
            "holdout_samples",
            "replay_samples",
            "active_metrics",
            "candidate_metrics",
            "per_class",
            "plots",
            "log",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_active_metrics(self, run: TrainingRun) -> dict:
        return ModelFigures.from_dict(run.active_metrics).to_dict() if run.active_metrics else {}

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_candidate_metrics(self, run: TrainingRun) -> dict:
        return ModelFigures.from_dict(run.candidate_metrics).to_dict() if run.candidate_metrics else {}

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_per_class(self, run: TrainingRun) -> list[dict]:
        return [DigitChange.from_dict(row).to_dict() for row in run.per_class if isinstance(row, dict)]

    @extend_schema_field(serializers.ListField(child=serializers.CharField(help_text="URL of a plot image (PNG).")))
    def get_plots(self, run: TrainingRun) -> list[str]:
        return [reverse("recognizer:training-run-plot", args=[run.pk, index]) for index in range(len(run.plots))]


_ANSWER = "A digit 0-9, or -1 for not a digit (ml.refusal.NOT_A_DIGIT_LABEL)."


class CorrectionOutcomeSerializer(serializers.Serializer):
    """One correction a retraining used (documentation: the rows are ml.report.CorrectionOutcome.to_dict())."""

    key = serializers.CharField(
        help_text="`submission-{id}` for a single digit, `submission-{id}/digit-{position}` for a number's digit."
    )
    label = serializers.IntegerField(help_text=f"The true answer, as corrected. {_ANSWER}")
    part = serializers.ChoiceField(
        choices=list(get_args(Part)),
        help_text="Trained on, kept aside to choose the epoch, or held out to judge the candidate.",
    )
    active = serializers.IntegerField(help_text=f"What the active model answers. {_ANSWER}")
    candidate = serializers.IntegerField(help_text=f"What the candidate answers. {_ANSWER}")
    outcome = serializers.ChoiceField(
        choices=list(get_args(Outcome)),
        help_text="learnt: the active model was wrong, the candidate is right; still_wrong: both wrong; kept: both "
        "right; lost: the active model was right, the candidate is wrong.",
    )


class TrainingRunDetailSerializer(TrainingRunSerializer):
    """One run: the list's fields and what it did with each correction it used (lists leave that out)."""

    correction_outcomes = serializers.SerializerMethodField()

    class Meta(TrainingRunSerializer.Meta):
        fields = [*TrainingRunSerializer.Meta.fields, "correction_outcomes"]
        read_only_fields = fields

    @extend_schema_field(CorrectionOutcomeSerializer(many=True))
    def get_correction_outcomes(self, run: TrainingRun) -> list[dict]:
        rows = run.correction_outcomes or []
        return [CorrectionOutcome.from_dict(row).to_dict() for row in rows if isinstance(row, dict)]


class ActivateSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, help_text="Why, for the record.")
