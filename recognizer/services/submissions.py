"""Writes of submissions: predict and store, correct, delete."""

import io
import logging

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from ml.predictor import ImageDecodeError
from ml.preprocess import MAX_PIXELS
from recognizer import serving
from recognizer.exceptions import InvalidImageError, NoDigitError, TooLargeError
from recognizer.models import Submission

logger = logging.getLogger(__name__)


# Pillow format -> the extension the stored original gets; the uploaded name is never used.
_EXTENSIONS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tiff",
    "HEIF": ".heic",
    "AVIF": ".avif",
}


def _decoded_format(image_bytes: bytes) -> str:
    """The file extension for the image's real format; refuses unreadable data and too many pixels."""
    try:
        with Image.open(io.BytesIO(image_bytes)) as img:  # reads the header only
            fmt, (width, height) = img.format or "", img.size
    except Image.DecompressionBombError as exc:
        raise TooLargeError(f"image too large: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InvalidImageError(
            "not an image file that can be read (PNG, JPEG, HEIC, WebP, GIF, BMP, TIFF ...)"
        ) from exc
    if width * height > MAX_PIXELS:
        raise TooLargeError(f"image too large: {width}x{height} pixels (limit {MAX_PIXELS:,})")
    return _EXTENSIONS.get(fmt, f".{fmt.lower() or 'img'}")


def _png_of_input(image: np.ndarray) -> bytes:
    """The 28x28 model input (float in [0, 1], ink high) as an 8-bit greyscale PNG."""
    pixels = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def submission_create(*, user, image_bytes: bytes, source: str, replaces: Submission | None = None) -> Submission:
    """Predict the digit in an image and keep it; nothing is stored when the image is refused or has no digit.

    ``replaces``: an earlier, uncorrected submission of the same drawing (the draw page predicts after every
    stroke); it is deleted in the same transaction, so a digit drawn in three strokes is stored once.
    """
    if replaces is not None and (replaces.user_id != user.pk or replaces.is_corrected):
        raise ValueError("only your own uncorrected submission can be replaced")
    if source not in Submission.Source.values:
        raise ValueError(f"unknown source {source!r}: choose one of {', '.join(Submission.Source.values)}")
    limit = settings.DIGITVISION_MAX_UPLOAD_BYTES
    if len(image_bytes) > limit:
        raise TooLargeError(f"image too large: {len(image_bytes):,} bytes (limit {limit:,})")
    if not image_bytes:
        raise InvalidImageError("the image is empty")
    extension = _decoded_format(image_bytes)

    predictor, version = serving.get_predictor()
    try:
        prediction = predictor.predict(image_bytes)
    except ImageDecodeError as exc:
        raise InvalidImageError(str(exc)) from exc
    if prediction.no_digit:
        raise NoDigitError(prediction.reason or "no digit found in the image")

    submission = Submission(
        user=user,
        source=source,
        predicted_digit=prediction.digit,
        confidence=prediction.confidence,
        probabilities=[float(p) for p in prediction.probabilities],
        model_version=version,
    )
    written: list = []
    try:
        with transaction.atomic():
            # upload_to replaces these names with generated ones; only the extension is kept.
            submission.image.save(f"original{extension}", ContentFile(image_bytes), save=False)
            written.append(submission.image)
            submission.input_image.save("input.png", ContentFile(_png_of_input(prediction.input_image)), save=False)
            written.append(submission.input_image)
            submission.save()
            if replaces is not None:
                submission_delete(submission=replaces)
    except BaseException:
        # The row was rolled back; remove the files so none is orphaned (on_commit cannot see a failure).
        for field_file in written:
            try:
                field_file.storage.delete(field_file.name)
            except OSError:
                logger.exception("could not remove %s after a failed submission", field_file.name)
        submission.pk = None
        raise
    return submission


def submission_set_training_use(*, submission: Submission, user, use: bool) -> Submission:
    """Staff keep a correction for retraining or leave it out; the person's history is not changed."""
    if not user.is_staff:
        raise PermissionDenied("only staff decide which corrections retraining uses")
    if not submission.is_corrected:
        raise ValueError("only a corrected submission is used for training: this one has no correction")
    submission.excluded_from_training = not use
    submission.save(update_fields=["excluded_from_training"])
    return submission


def _stored_files(submission: Submission) -> list[tuple]:
    """(storage, name) of every file a submission has: the original, the model input and the preview, if made."""
    files = [(f.storage, f.name) for f in (submission.image, submission.input_image) if f]
    if submission.image:
        files.append((submission.preview.storage, submission.preview.name))
    return files


def _remove_files_on_commit(files: list[tuple]) -> None:
    """Delete the files once the rows are gone for good; a rolled-back deletion keeps them."""

    def remove_files() -> None:
        for storage, name in files:
            try:
                storage.delete(name)
            except OSError:
                logger.exception("could not remove %s of a deleted submission", name)

    transaction.on_commit(remove_files)


def submission_delete(*, submission: Submission) -> None:
    """Remove a submission and, once the deletion is committed, its files; no later retraining uses it."""
    files = _stored_files(submission)
    submission.delete()
    _remove_files_on_commit(files)


def account_delete(*, user) -> int:
    """Delete a person's account and everything they sent (rows now, files once committed); returns how many
    submissions went. Corrections they made to others' submissions, as staff, stay, without their name."""
    with transaction.atomic():
        submissions = list(Submission.objects.filter(user=user).only("pk", "image", "input_image"))
        files = [file for submission in submissions for file in _stored_files(submission)]
        user.delete()  # the submissions, the API token and the sessions' owner go with it
        _remove_files_on_commit(files)
    return len(submissions)


def submission_correct(*, submission: Submission, user, digit: int) -> Submission:
    """Record the true digit; passing the predicted digit confirms the prediction. Can be changed later."""
    if isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit <= 9:
        raise ValueError(f"the digit must be a whole number from 0 to 9, not {digit!r}")
    if submission.user_id != user.pk and not user.is_staff:
        raise PermissionDenied("only the person who made a submission, or staff, can correct it")
    submission.corrected_digit = digit
    submission.corrected_by = user
    submission.corrected_at = timezone.now()
    submission.save(update_fields=["corrected_digit", "corrected_by", "corrected_at"])
    return submission
