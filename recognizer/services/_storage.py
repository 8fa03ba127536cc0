"""What the services that store an image share: one decode with every limit, one transaction with its files."""

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.db.models.fields.files import FieldFile
from PIL import Image

from ml.decode import ImageDecodeError, ImageFormatError, ImageTooLargeError, decode_image
from recognizer import serving
from recognizer.exceptions import (
    InvalidImageError,
    InvalidSourceError,
    NoDigitError,
    NotReplaceableError,
    TooLargeError,
    UnsupportedFormatError,
)
from recognizer.models import DigitSample, Submission

logger = logging.getLogger(__name__)

# The documented formats (Pillow's names) and the extension each stored original gets; the uploaded name is
# never used. Anything else is refused from its header, before its pixels are decoded.
EXTENSIONS = {
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

# write(field_file, name, content): saves a file of the row being stored (upload_to replaces the name with a
# generated one; only its extension is kept).
FileWriter = Callable[[FieldFile, str, bytes], None]


def decoded_image(image_bytes: bytes) -> Image.Image:
    """The image decoded, once, with every limit checked: bytes, format, pixels."""
    limit = settings.DIGITVISION_MAX_UPLOAD_BYTES
    if len(image_bytes) > limit:
        raise TooLargeError(f"The image is too large: {len(image_bytes):,} bytes (the limit is {limit:,}).")
    if not image_bytes:
        raise InvalidImageError("The image is empty.")
    try:
        return decode_image(image_bytes, formats=EXTENSIONS)
    except ImageTooLargeError as exc:
        raise TooLargeError(str(exc)) from exc
    except ImageFormatError as exc:
        raise UnsupportedFormatError(
            f"{exc.format} images are not accepted: send PNG, JPEG, HEIC, AVIF, WebP, GIF, BMP or TIFF.",
            details={"format": exc.format},
        ) from exc
    except ImageDecodeError as exc:
        raise InvalidImageError(str(exc)) from exc


def replaceable(*, user, submission_id: int, kind: str) -> QuerySet[Submission]:
    """The person's own uncorrected submission of this kind with this id (none when it is anything else)."""
    return Submission.objects.filter(pk=submission_id, user=user, kind=kind).corrected(False)


def image_to_store(*, user, image_bytes: bytes, source: str, kind: str, replaces_id: int | None) -> Image.Image:
    """Everything checked before the model's work: the source, the submission to replace, then the image,
    decoded once with every limit."""
    if source not in Submission.Source.values:
        raise InvalidSourceError(f"unknown source {source!r}: choose one of {', '.join(Submission.Source.values)}")
    if replaces_id is not None and not replaceable(user=user, submission_id=replaces_id, kind=kind).exists():
        raise NotReplaceableError()  # before the prediction's work; checked again, locked, when it is stored
    return decoded_image(image_bytes)


def read_with_active_model(image: Image.Image, read: Callable, *, wanted: str) -> tuple:
    """(what ``read(predictor, image)`` answers, the ModelVersion) with the active model version. An image it
    cannot read is InvalidImageError; one with no ink (its answer's ``no_digit``) is NoDigitError, which asks
    for ``wanted``."""
    predictor, version = serving.get_predictor()
    try:
        answer = read(predictor, image)
    except ImageDecodeError as exc:
        raise InvalidImageError(str(exc)) from exc
    if answer.no_digit:
        reason = answer.reason or "no ink found"
        raise NoDigitError(f"No digit found ({reason}): draw or upload {wanted}.", details={"reason": reason})
    return answer, version


@contextmanager
def storing(
    submission: Submission, *, image: Image.Image, image_bytes: bytes, replaces_id: int | None
) -> Iterator[FileWriter]:
    """One transaction that stores ``submission``: its original is written here, and the block writes the rest
    with the FileWriter it gets and saves the rows. Then the submission it replaces (``replaces_id``), locked
    and checked again, is deleted: a correction saved meanwhile keeps its row.

    When anything fails the rows are rolled back and every file written is removed, so none is orphaned
    (on_commit cannot see a failure).
    """
    written: list[FieldFile] = []

    def write(field_file: FieldFile, name: str, content: bytes) -> None:
        field_file.save(name, ContentFile(content), save=False)
        written.append(field_file)

    try:
        with transaction.atomic():
            write(submission.image, f"original{EXTENSIONS[image.format]}", image_bytes)
            yield write
            if replaces_id is not None:
                replaced = (
                    replaceable(user=submission.user, submission_id=replaces_id, kind=submission.kind)
                    .select_for_update()
                    .first()
                )
                if replaced is None:
                    raise NotReplaceableError()
                delete_with_files(replaced)
    except BaseException:
        for field_file in written:
            try:
                field_file.storage.delete(field_file.name)
            except OSError:
                logger.exception("could not remove %s after a failed submission", field_file.name)
        submission.pk = None
        raise


# --------------------------------------------------------------------------- deleting


def stored_files(submission: Submission) -> list[tuple]:
    """(storage, name) of every file a submission has: the original, the model input (a digit's) and the
    preview, if made, and each digit sample's input (a number's)."""
    files = [(f.storage, f.name) for f in (submission.image, submission.input_image) if f]
    if submission.image:
        files.append((submission.preview.storage, submission.preview.name))
    if submission.is_number:
        samples = submission.digit_samples.all()
        files.extend((s.input_image.storage, s.input_image.name) for s in samples if s.input_image)
    return files


def with_their_files(submissions: QuerySet[Submission]) -> QuerySet[Submission]:
    """Only what stored_files reads, the digit samples' inputs in one more query."""
    samples = DigitSample.objects.only("pk", "submission_id", "input_image")
    return submissions.only("pk", "kind", "image", "input_image").prefetch_related(
        Prefetch("digit_samples", queryset=samples)
    )


def remove_files_on_commit(files: Iterable[tuple]) -> None:
    """Delete the files once the rows are gone for good; a rolled-back deletion keeps them."""
    files = list(files)

    def remove_files() -> None:
        for storage, name in files:
            try:
                storage.delete(name)
            except OSError:
                logger.exception("could not remove %s of a deleted submission", name)

    transaction.on_commit(remove_files)


def delete_with_files(submission: Submission) -> None:
    """Remove a submission (a number's digit samples with it) and, once that is committed, its files."""
    files = stored_files(submission)
    submission.delete()
    remove_files_on_commit(files)
