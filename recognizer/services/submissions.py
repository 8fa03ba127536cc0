"""Writes of submissions: predict and store, correct, delete."""

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from ml.decode import ImageDecodeError, ImageFormatError, ImageTooLargeError, decode_image
from ml.preprocess import model_input_png
from recognizer import serving
from recognizer.exceptions import (
    InvalidCorrectionError,
    InvalidImageError,
    InvalidSourceError,
    NoDigitError,
    NotCorrectedError,
    NotReplaceableError,
    TooLargeError,
    UnsupportedFormatError,
)
from recognizer.models import Submission

logger = logging.getLogger(__name__)


# The documented formats (Pillow's names) and the extension each stored original gets; the uploaded name is
# never used. Anything else is refused from its header, before its pixels are decoded.
_EXTENSIONS = {
    "JPEG": ".jpg",
    "MPO": ".jpg",  # what many cameras write: a JPEG with extra frames
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tiff",
    "HEIF": ".heic",
    "AVIF": ".avif",
}


def _decoded(image_bytes: bytes):
    """The image decoded, once, with every limit checked: bytes, format, pixels."""
    limit = settings.DIGITVISION_MAX_UPLOAD_BYTES
    if len(image_bytes) > limit:
        raise TooLargeError(f"The image is too large: {len(image_bytes):,} bytes (the limit is {limit:,}).")
    if not image_bytes:
        raise InvalidImageError("The image is empty.")
    try:
        return decode_image(image_bytes, formats=_EXTENSIONS)
    except ImageTooLargeError as exc:
        raise TooLargeError(str(exc)) from exc
    except ImageFormatError as exc:
        raise UnsupportedFormatError(
            f"{exc.format} images are not accepted: send PNG, JPEG, HEIC, AVIF, WebP, GIF, BMP or TIFF.",
            details={"format": exc.format},
        ) from exc
    except ImageDecodeError as exc:
        raise InvalidImageError(str(exc)) from exc


def submission_create(*, user, image_bytes: bytes, source: str, replaces_id: int | None = None) -> Submission:
    """Predict the digit in an image and keep it; nothing is stored when the image is refused or has no digit.

    Ink that is not one digit (a letter, a scribble, several digits) is stored with that answer, its reason
    and the ten probabilities, but no digit and no confidence, so that it can be confirmed or corrected.

    ``replaces_id``: an earlier, uncorrected submission of the same drawing by the same person (the draw page
    predicts after every stroke); it is deleted in the same transaction, so a digit drawn in three strokes is
    stored once. Any other id (someone else's, corrected, gone) raises NotReplaceableError and stores nothing.
    """
    if source not in Submission.Source.values:
        raise InvalidSourceError(f"unknown source {source!r}: choose one of {', '.join(Submission.Source.values)}")
    if replaces_id is not None and not _replaceable(user=user, submission_id=replaces_id).exists():
        raise NotReplaceableError()  # before the prediction's work; checked again, locked, when it is stored
    image = _decoded(image_bytes)

    predictor, version = serving.get_predictor()
    try:
        prediction = predictor.predict(image)
    except ImageDecodeError as exc:
        raise InvalidImageError(str(exc)) from exc
    if prediction.no_digit:
        reason = prediction.reason or "no ink found"
        raise NoDigitError(
            f"No digit found ({reason}): draw or upload a single, clearly visible digit.", details={"reason": reason}
        )

    submission = Submission(
        user=user,
        source=source,
        predicted_digit=prediction.digit,
        confidence=prediction.confidence,
        not_a_digit=prediction.not_a_digit,
        refusal_reason=prediction.reason if prediction.not_a_digit else "",
        probabilities=[float(p) for p in prediction.probabilities],
        model_version=version,
    )
    extension = _EXTENSIONS[image.format]
    written: list = []
    try:
        with transaction.atomic():
            # upload_to replaces these names with generated ones; only the extension is kept.
            submission.image.save(f"original{extension}", ContentFile(image_bytes), save=False)
            written.append(submission.image)
            submission.input_image.save("input.png", ContentFile(model_input_png(prediction.input_image)), save=False)
            written.append(submission.input_image)
            submission.save()
            if replaces_id is not None:
                # Locked and checked again: a correction saved while this image was predicted keeps its row.
                replaced = _replaceable(user=user, submission_id=replaces_id).select_for_update().first()
                if replaced is None:
                    raise NotReplaceableError()
                submission_delete(submission=replaced)
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


def _replaceable(*, user, submission_id: int):
    return Submission.objects.filter(pk=submission_id, user=user).corrected(False)


def submission_set_training_use(*, submission: Submission, user, use: bool) -> Submission:
    """Staff keep a correction for retraining or leave it out; the person's history is not changed."""
    if not user.is_staff:
        raise PermissionDenied("only staff decide which corrections retraining uses")
    if not submission.is_corrected:
        raise NotCorrectedError()
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


def submission_correct(
    *, submission: Submission, user, digit: int | None = None, not_a_digit: bool = False
) -> Submission:
    """Record the true answer: ``digit`` (0-9) or ``not_a_digit=True``, exactly one. The model's own answer
    confirms it (the predicted digit, or ``not_a_digit`` for a refused image). Can be changed later."""
    if not isinstance(not_a_digit, bool):
        raise InvalidCorrectionError(f"not_a_digit must be true or false, not {not_a_digit!r}")
    if digit is None and not not_a_digit:
        raise InvalidCorrectionError("Choose a digit from 0 to 9, or say it is not a digit.")
    if digit is not None and not_a_digit:
        raise InvalidCorrectionError("Choose a digit or say it is not a digit, not both.")
    if digit is not None and (isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit <= 9):
        raise InvalidCorrectionError(f"the digit must be a whole number from 0 to 9, not {digit!r}")
    if submission.user_id != user.pk and not user.is_staff:
        raise PermissionDenied("only the person who made a submission, or staff, can correct it")
    submission.corrected_digit = digit
    submission.corrected_not_a_digit = not_a_digit
    submission.corrected_by = user
    submission.corrected_at = timezone.now()
    submission.save(update_fields=["corrected_digit", "corrected_not_a_digit", "corrected_by", "corrected_at"])
    return submission
