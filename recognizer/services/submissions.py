"""Writes of submissions: predict a digit and store it, correct, delete (a digit or a number), delete accounts."""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from ml.preprocess import model_input_png
from recognizer.exceptions import InvalidCorrectionError, NotCorrectedError
from recognizer.models import Submission
from recognizer.services._storage import (
    delete_with_files,
    image_to_store,
    read_with_active_model,
    remove_files_on_commit,
    stored_files,
    storing,
    with_their_files,
)


def submission_create(*, user, image_bytes: bytes, source: str, replaces_id: int | None = None) -> Submission:
    """Predict the digit in an image and keep it; nothing is stored when the image is refused or has no digit.

    Ink that is not one digit (a letter, a scribble, several digits) is stored with that answer, its reason
    and the ten probabilities, but no digit and no confidence, so that it can be confirmed or corrected.

    ``replaces_id``: an earlier, uncorrected submission of the same drawing by the same person (the draw page
    predicts after every stroke); it is deleted in the same transaction, so a digit drawn in three strokes is
    stored once. Any other id (someone else's, corrected, gone, a number) raises NotReplaceableError and stores
    nothing.
    """
    kind = Submission.Kind.DIGIT
    image = image_to_store(user=user, image_bytes=image_bytes, source=source, kind=kind, replaces_id=replaces_id)

    prediction, version = read_with_active_model(
        image, lambda predictor, decoded: predictor.predict(decoded), wanted="a single, clearly visible digit"
    )

    submission = Submission(
        user=user,
        kind=kind,
        source=source,
        predicted_digit=prediction.digit,
        confidence=prediction.confidence,
        not_a_digit=prediction.not_a_digit,
        refusal_reason=prediction.reason if prediction.not_a_digit else "",
        probabilities=[float(p) for p in prediction.probabilities],
        model_version=version,
    )
    with storing(submission, image=image, image_bytes=image_bytes, replaces_id=replaces_id) as write:
        write(submission.input_image, "input.png", model_input_png(prediction.input_image))
        submission.save()
    return submission


def submission_set_training_use(*, submission: Submission, user, use: bool) -> Submission:
    """Staff keep a correction for retraining or leave it out; the person's history is not changed."""
    if not user.is_staff:
        raise PermissionDenied("only staff decide which corrections retraining uses")
    if not submission.is_corrected:
        raise NotCorrectedError()
    submission.excluded_from_training = not use
    submission.save(update_fields=["excluded_from_training"])
    return submission


def submission_delete(*, submission: Submission) -> None:
    """Remove a submission, a digit or a number, and, once the deletion is committed, its files (a number's
    digit samples too); no later retraining uses it."""
    delete_with_files(submission)


def account_delete(*, user) -> int:
    """Delete a person's account and everything they sent (rows now, files once committed); returns how many
    submissions went. Corrections they made to others' submissions, as staff, stay, without their name."""
    with transaction.atomic():
        submissions = list(with_their_files(Submission.objects.filter(user=user)))
        files = [file for submission in submissions for file in stored_files(submission)]
        user.delete()  # the submissions, the API token and the sessions' owner go with it
        remove_files_on_commit(files)
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
    if digit is not None:
        check_digit(digit)
    if submission.is_number:
        raise InvalidCorrectionError("A number is corrected with its true number, not with one digit.")
    check_may_correct(submission=submission, user=user)
    submission.corrected_digit = digit
    submission.corrected_not_a_digit = not_a_digit
    submission.corrected_by = user
    submission.corrected_at = timezone.now()
    submission.save(update_fields=["corrected_digit", "corrected_not_a_digit", "corrected_by", "corrected_at"])
    return submission


def check_digit(digit) -> None:
    if isinstance(digit, bool) or not isinstance(digit, int) or not 0 <= digit <= 9:
        raise InvalidCorrectionError(f"the digit must be a whole number from 0 to 9, not {digit!r}")


def check_may_correct(*, submission: Submission, user) -> None:
    if submission.user_id != user.pk and not user.is_staff:
        raise PermissionDenied("only the person who made a submission, or staff, can correct it")
