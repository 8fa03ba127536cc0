"""OpenAPI documentation pieces (drf-spectacular): request bodies, error responses and worked examples."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from recognizer.api.serializers import (
    BatchBase64Serializer,
    BatchUploadSerializer,
    ErrorSerializer,
    NumberBase64Serializer,
    NumberUploadSerializer,
    PredictionBase64Serializer,
    PredictionUploadSerializer,
)
from recognizer.image_responses import MEDIA_TYPES

ERROR_DESCRIPTIONS = {
    400: "Invalid input (`invalid`, `invalid_image`, `parse_error`), or a correction that cannot be "
    "(`invalid_digit`, `invalid_number`).",
    401: "No or a wrong token (`not_authenticated`, `authentication_failed`).",
    403: "Not allowed (`permission_denied`): staff-only endpoints, or a session request without its CSRF token.",
    404: "No such object among yours (`not_found`).",
    409: "Conflicts with the current state: a `replaces` that is not your uncorrected prediction (or number) "
    "(`not_replaceable`), "
    "a run already in progress (`training_in_progress`, `details.run`), "
    "a run no longer in progress (`not_in_progress`), weights that fail their checksum (`model_weights_invalid`).",
    413: "The image or request is too large (`too_large`, `request_too_large`).",
    415: "The body is neither JSON nor multipart (`unsupported_media_type`), or the image is in a format other "
    "than PNG, JPEG, HEIC, AVIF, WebP, GIF, BMP or TIFF (`unsupported_format`, `details.format`).",
    422: "The image holds no digit (`no_digit`: blank, or a dot); nothing was stored. (Ink that is not a digit is "
    "a 201 with `not_a_digit: true`, stored; ink that holds no number a 201 with `not_a_number: true`.) "
    "Or a retraining that cannot work "
    "(`training_not_possible`: no corrections, none in the holdout, or MNIST missing and not fetchable); no run "
    "was created.",
    429: "Too many requests (`throttled`); `details.retry_after` says how many seconds to wait.",
    503: "No model can serve right now (`model_unavailable`), or the task queue is down (`queue_unavailable`).",
}
# Statuses any authenticated endpoint can answer (400: e.g. an unknown `include`).
COMMON_ERRORS = (400, 401, 403, 429)

ERROR = OpenApiResponse(ErrorSerializer, description="An error.")


def _error(status: int) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])


def responses(success: int, serializer, *errors: int) -> dict:
    """The success response plus the given and the common error responses, all in the one error shape."""
    return {success: serializer, **{s: _error(s) for s in sorted({*errors, *COMMON_ERRORS})}}


# The media types image endpoints answer with, concrete: generated clients skip a wildcard like `image/*`.
# An original is stored in the format it was sent in (services/_storage.py names its extension).
ORIGINAL_IMAGE_TYPES = tuple(dict.fromkeys(MEDIA_TYPES.values()))
PREVIEW_IMAGE_TYPES = ("image/webp", *(t for t in ORIGINAL_IMAGE_TYPES if t != "image/webp"))
INPUT_IMAGE_TYPES = ("image/png",)


def image_responses(media_types: tuple[str, ...], description: str) -> dict:
    """An image file in one of `media_types` (the first is the usual one), or an error as JSON."""
    return {
        **{(200, t): OpenApiResponse(OpenApiTypes.BINARY, description=description) for t in media_types},
        **{(s, "application/json"): _error(s) for s in (404, *COMMON_ERRORS)},
    }


def json_body(serializer) -> dict:
    """A request body declared as JSON only. DRF's parsers read a multipart form too, but one shape declared for
    two media types makes generated clients that cannot be imported (openapi-python-client 0.29), and a client
    needs one way to send it."""
    return {"application/json": serializer}


INCLUDE_PARAMETER = OpenApiParameter(
    "include",
    str,
    enum=["input"],
    description="`input`: add the 28x28 model input (rows of floats in [0, 1]) to the answer.",
)

PREDICTION_REQUEST = {
    "multipart/form-data": PredictionUploadSerializer,
    "application/json": PredictionBase64Serializer,
}
NUMBER_REQUEST = {"multipart/form-data": NumberUploadSerializer, "application/json": NumberBase64Serializer}
BATCH_REQUEST = {"multipart/form-data": BatchUploadSerializer, "application/json": BatchBase64Serializer}

# Real 28x28 PNGs (white on black, like MNIST) that the shipped model reads as 7 and 1: "Try it out" works.
SEVEN_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAAAR0lEQVR42mNgGGSAEUL9xyrMhF3Pf3ySjMjGomvDaSxcDpexuCQRGknUiaSRNJ3I"
    "GknSiaKRFJ2oGknQiaaReJ3/sccgfQEAykgLJVMrM6YAAAAASUVORK5CYII="
)
ONE_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAAAHUlEQVR42mNgoD9gROH9RxVgwqdz"
    "VHJUkghJGgEA7SsBKkgRMQcAAAAASUVORK5CYII="
)
# "42" in white on black, 72x48, that the shipped model reads as 42.
FORTY_TWO_PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAADwAAAAwAQAAAABlRSSkAAAAnUlEQVR42rXQsW0CQRCF4W+HCy6yiQgPXAEdACVQAiWQWnJwpV0p24E3cLAB"
    "YgkWyw3gif55T5r3NPzLXMBofyPYOK9mwQdOguZzTXBK9QfcU0lZSP1CoBWEYBeEAbIwZgaCBYuwnhnhOPFOOOKNcNdz1Sn7QmqtqERDqj1L"
    "lA5lyIS03Y0LmGyfff7g4Nr31mpX5l/rWf4b9fWPfQD9vyQINYFKEwAAAABJRU5ErkJggg=="
)

_PREDICTION = {
    "id": 42,
    "digit": 7,
    "confidence": 0.9983,
    "not_a_digit": False,
    "reason": "",
    "closest_digit": 7,
    "closest_probability": 0.9983,
    "probabilities": [0.0, 0.0001, 0.0009, 0.0002, 0.0, 0.0, 0.0, 0.9983, 0.0001, 0.0004],
    "model_version": "digitnet-bdfc2471",
    "source": "api",
    "created_at": "2026-11-25T10:15:03.118Z",
    "corrected_digit": None,
    "corrected_not_a_digit": False,
    "corrected_at": None,
    "true_digit": 7,
    "true_not_a_digit": False,
    "is_corrected": False,
    "corrected_by_staff": False,
    "input": None,
    "links": {
        "self": "http://127.0.0.1:8000/api/v1/predictions/42/",
        "image": "http://127.0.0.1:8000/api/v1/predictions/42/image/",
        "preview": "http://127.0.0.1:8000/api/v1/predictions/42/preview/",
        "input_image": "http://127.0.0.1:8000/api/v1/predictions/42/input-image/",
        "correction": "http://127.0.0.1:8000/api/v1/predictions/42/correction/",
    },
}
# "12" written in one box: stored (so it can be confirmed or corrected), with no digit and no confidence.
_NOT_A_DIGIT = {
    **_PREDICTION,
    "id": 43,
    "digit": None,
    "confidence": None,
    "not_a_digit": True,
    "reason": "looks like several digits",
    "closest_digit": 1,
    "closest_probability": 0.31,
    "probabilities": [0.02, 0.31, 0.24, 0.08, 0.05, 0.07, 0.03, 0.12, 0.05, 0.03],
    "true_digit": None,
    "true_not_a_digit": True,
    "links": {name: url.replace("/42/", "/43/") for name, url in _PREDICTION["links"].items()},
}
_NO_DIGIT = {"error": {"code": "no_digit", "message": "no ink found: the image is blank or too faint", "details": {}}}

PREDICTION_EXAMPLES = [
    OpenApiExample(
        "A data URL from a canvas",
        value={"image": "data:image/png;base64," + SEVEN_PNG_BASE64, "source": "canvas"},
        request_only=True,
        media_type="application/json",
    ),
    OpenApiExample("The digit found", value=_PREDICTION, response_only=True, status_codes=["201"]),
    OpenApiExample("Not a digit (stored)", value=_NOT_A_DIGIT, response_only=True, status_codes=["201"]),
    OpenApiExample("A blank image", value=_NO_DIGIT, response_only=True, status_codes=["422"]),
]

BATCH_EXAMPLES = [
    OpenApiExample(
        "Two images in JSON",
        value={"images": [SEVEN_PNG_BASE64, "data:image/png;base64," + ONE_PNG_BASE64]},
        request_only=True,
        media_type="application/json",
    ),
    OpenApiExample(
        "One digit, one not a digit, one blank",
        value={
            "created": 2,
            "failed": 1,
            "results": [
                {"index": 0, "status": 201, "prediction": _PREDICTION},
                {"index": 1, "status": 201, "prediction": _NOT_A_DIGIT},
                {"index": 2, "status": 422, "error": _NO_DIGIT["error"]},
            ],
        },
        response_only=True,
        status_codes=["200"],
    ),
]

# A correction's two bodies: people's own (/predictions/{id}/correction/) and staff's label in the review queue.
_CORRECTION_REQUESTS = [
    OpenApiExample("It was a 1", value={"true_digit": 1}, request_only=True),
    OpenApiExample("It is not a digit", value={"not_a_digit": True}, request_only=True),
]
CORRECTION_EXAMPLES = [
    *_CORRECTION_REQUESTS,
    OpenApiExample(
        "The corrected prediction",
        value={
            **_PREDICTION,
            "corrected_digit": 1,
            "corrected_at": "2026-11-25T10:16:40.001Z",
            "true_digit": 1,
            "is_corrected": True,
        },
        response_only=True,
        status_codes=["200"],
    ),
    OpenApiExample(
        "A digit corrected to not a digit",
        value={
            **_PREDICTION,
            "corrected_not_a_digit": True,
            "corrected_at": "2026-11-25T10:16:40.001Z",
            "true_digit": None,
            "true_not_a_digit": True,
            "is_corrected": True,
        },
        response_only=True,
        status_codes=["200"],
    ),
]

CORRECTION_REVIEW_EXAMPLES = [
    OpenApiExample("Leave it out of retraining", value={"excluded_from_training": True}, request_only=True),
    OpenApiExample("It was a 4", value={"corrected_digit": 4}, request_only=True),
    OpenApiExample("It is not a digit", value={"corrected_not_a_digit": True}, request_only=True),
]

_REVIEW_URL = "http://127.0.0.1:8000/api/v1/staff/review/43/"
_REVIEW_ITEM = {
    "id": 43,
    "person": "ada",
    "predicted_digit": None,
    "confidence": None,
    "not_a_digit": True,
    "reason": "looks like several digits",
    "closest_digit": 1,
    "closest_probability": 0.31,
    "model_version": "digitnet-bdfc2471",
    "source": "canvas",
    "created_at": "2026-11-25T10:15:03.118Z",
    "preview": _REVIEW_URL + "preview/",
    "label": _REVIEW_URL + "label/",
}
# One item: drf-spectacular wraps a list's example in the page (count, next, previous, results).
REVIEW_QUEUE_EXAMPLES = [
    OpenApiExample("First in the queue: a refused one", value=_REVIEW_ITEM, response_only=True, status_codes=["200"])
]
REVIEW_LABEL_EXAMPLES = [
    *_CORRECTION_REQUESTS,
    OpenApiExample(
        "The staff correction (as /corrections/ shows it)",
        value={
            **{k: _REVIEW_ITEM[k] for k in ("id", "person", "predicted_digit", "confidence", "not_a_digit", "reason")},
            "corrected_digit": 1,
            "corrected_not_a_digit": False,
            "corrected_by": "staff",
            "corrected_at": "2026-11-26T08:02:11.514Z",
            "excluded_from_training": False,
            "preview": "http://127.0.0.1:8000/api/v1/corrections/43/preview/",
        },
        response_only=True,
        status_codes=["200"],
    ),
]

TOKEN_EXAMPLES = [
    OpenApiExample("Credentials", value={"username": "ada", "password": "correct horse battery"}, request_only=True),
    OpenApiExample("A token", value={"token": "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"}, response_only=True),
]

_NUMBER_URL = "http://127.0.0.1:8000/api/v1/numbers/57/"
_NUMBER = {
    "id": 57,
    "number": "42",
    "confidence": 0.9999,
    "not_a_number": False,
    "reason": "",
    "digits": [
        {
            "position": 0,
            "digit": 4,
            "confidence": 0.9999,
            "probabilities": [0.0, 0.0, 0.0, 0.0, 0.9999, 0.0, 0.0, 0.0001, 0.0, 0.0],
            "box": [7, 10, 21, 29],
            "refused": False,
            "corrected_digit": None,
            "true_digit": 4,
            "input": None,
            "links": {"input_image": _NUMBER_URL + "digits/0/input-image/"},
        },
        {
            "position": 1,
            "digit": 2,
            "confidence": 1.0,
            "probabilities": [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "box": [31, 9, 22, 30],
            "refused": False,
            "corrected_digit": None,
            "true_digit": 2,
            "input": None,
            "links": {"input_image": _NUMBER_URL + "digits/1/input-image/"},
        },
    ],
    "model_version": "digitnet-0dbd83b8",
    "source": "api",
    "created_at": "2026-12-01T09:30:12.504Z",
    "corrected_number": None,
    "segmentation_wrong": False,
    "corrected_at": None,
    "true_number": "42",
    "is_corrected": False,
    "links": {
        "self": _NUMBER_URL,
        "image": _NUMBER_URL + "image/",
        "preview": _NUMBER_URL + "preview/",
        "correction": _NUMBER_URL + "correction/",
    },
}
# A shape whose every part is refused as not a digit: stored (so it can be corrected), with no number.
_NOT_A_NUMBER = {
    **_NUMBER,
    "id": 58,
    "number": None,
    "confidence": None,
    "not_a_number": True,
    "reason": "not a number: no digit in the ink",
    "digits": [],
    "true_number": None,
    "links": {name: url.replace("/57/", "/58/") for name, url in _NUMBER["links"].items()},
}
_NO_NUMBER = {
    "error": {
        "code": "no_digit",
        "message": "No digit found (blank image: no ink found): draw or upload a number, its digits clearly visible.",
        "details": {"reason": "blank image: no ink found"},
    }
}

NUMBER_EXAMPLES = [
    OpenApiExample(
        "A data URL from a canvas",
        value={"image": "data:image/png;base64," + FORTY_TWO_PNG_BASE64, "source": "canvas"},
        request_only=True,
        media_type="application/json",
    ),
    OpenApiExample("The number read", value=_NUMBER, response_only=True, status_codes=["201"]),
    OpenApiExample("Not a number (stored)", value=_NOT_A_NUMBER, response_only=True, status_codes=["201"]),
    OpenApiExample("A blank image", value=_NO_NUMBER, response_only=True, status_codes=["422"]),
]

NUMBER_BATCH_EXAMPLES = [
    OpenApiExample(
        "Two images in JSON",
        value={"images": [FORTY_TWO_PNG_BASE64, "data:image/png;base64," + FORTY_TWO_PNG_BASE64]},
        request_only=True,
        media_type="application/json",
    ),
    OpenApiExample(
        "One number, one not a number, one blank",
        value={
            "created": 2,
            "failed": 1,
            "results": [
                {"index": 0, "status": 201, "number": _NUMBER},
                {"index": 1, "status": 201, "number": _NOT_A_NUMBER},
                {"index": 2, "status": 422, "error": _NO_NUMBER["error"]},
            ],
        },
        response_only=True,
        status_codes=["200"],
    ),
]

_CORRECTED_AT = "2026-12-01T09:31:05.250Z"
NUMBER_CORRECTION_EXAMPLES = [
    OpenApiExample("It was 47", value={"true_number": "47"}, request_only=True),
    OpenApiExample("Its second digit is a 7", value={"position": 1, "true_digit": 7}, request_only=True),
    OpenApiExample("It was 2026 (four digits, two were found)", value={"true_number": "2026"}, request_only=True),
    OpenApiExample(
        "The corrected number",
        value={
            **_NUMBER,
            "digits": [
                {**_NUMBER["digits"][0], "corrected_digit": 4},
                {**_NUMBER["digits"][1], "corrected_digit": 7, "true_digit": 7},
            ],
            "corrected_number": "47",
            "corrected_at": _CORRECTED_AT,
            "true_number": "47",
            "is_corrected": True,
        },
        response_only=True,
        status_codes=["200"],
    ),
    OpenApiExample(
        "Corrected with another count of digits: none of them is corrected",
        value={
            **_NUMBER,
            "corrected_number": "2026",
            "segmentation_wrong": True,
            "corrected_at": _CORRECTED_AT,
            "true_number": "2026",
            "is_corrected": True,
        },
        response_only=True,
        status_codes=["200"],
    ),
]
