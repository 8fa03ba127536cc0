"""Writes of numbers: read a whole number and store it with its digits, correct the number or one digit."""

from django.db import transaction
from django.utils import timezone

from ml.numbers import MAX_DIGITS, read_number
from ml.preprocess import model_input_png
from recognizer.exceptions import InvalidCorrectionError, InvalidNumberError
from recognizer.models import DigitSample, Submission
from recognizer.services._storage import image_to_store, read_with_active_model, storing
from recognizer.services.submissions import check_digit, check_may_correct


def number_create(*, user, image_bytes: bytes, source: str, replaces_id: int | None = None) -> Submission:
    """Read the number in an image and keep it, with each digit (its box, its 28x28 input, what was read) as a
    DigitSample; nothing is stored when the image is refused or blank (NoDigitError).

    Ink that holds no digit is stored as "not a number" with the reason (no number, no confidence), so that it
    can be corrected. The checks, the limits, the one decode and ``replaces_id`` (an earlier, uncorrected
    number of the same drawing, deleted in the same transaction) are those of submission_create.
    """
    kind = Submission.Kind.NUMBER
    image = image_to_store(user=user, image_bytes=image_bytes, source=source, kind=kind, replaces_id=replaces_id)

    reading, version = read_with_active_model(image, read_number, wanted="a number, its digits clearly visible")

    submission = Submission(
        user=user,
        kind=kind,
        source=source,
        predicted_number=reading.number or "",
        confidence=reading.confidence,
        not_a_number=reading.not_a_number,
        refusal_reason=reading.reason if reading.not_a_number else "",
        probabilities=[],  # each digit has its own
        model_version=version,
    )
    samples = [
        DigitSample(
            position=position,
            box_x=digit.box[0],
            box_y=digit.box[1],
            box_width=digit.box[2],
            box_height=digit.box[3],
            predicted_digit=digit.digit,
            confidence=digit.confidence,
            probabilities=[float(p) for p in digit.probabilities],
            refused=digit.refused,
        )
        for position, digit in enumerate(reading.digits)
    ]
    with storing(submission, image=image, image_bytes=image_bytes, replaces_id=replaces_id) as write:
        submission.save()
        for sample, digit in zip(samples, reading.digits, strict=True):
            sample.submission = submission
            write(sample.input_image, "input.png", model_input_png(digit.input_image))
        DigitSample.objects.bulk_create(samples)
    return submission


def _checked_number(true_number) -> str:
    if not isinstance(true_number, str):
        raise InvalidNumberError(f'The number must be text made of digits, like "0427", not {true_number!r}.')
    if not true_number:
        raise InvalidNumberError(f"Type the number that is written: 1 to {MAX_DIGITS} digits.")
    others = sorted({c for c in true_number if c not in "0123456789"})
    if others:
        shown = " ".join(repr(c) for c in others)
        raise InvalidNumberError(f"A number is made of the digits 0-9 only; {true_number!r} also has {shown}.")
    if len(true_number) > MAX_DIGITS:
        raise InvalidNumberError(f"A number has at most {MAX_DIGITS} digits; this one has {len(true_number)}.")
    return true_number


def _check_is_number(submission: Submission) -> None:
    if not submission.is_number:
        raise InvalidCorrectionError("A single digit is corrected with its digit, or as not a digit.")


def number_correct(*, submission: Submission, user, true_number: str) -> Submission:
    """Record the true number (1 to MAX_DIGITS digits, leading zeros kept); what was read confirms it.

    With as many digits as were found, each digit sample gets its own true digit, and these are retraining
    data. With another count the digits were found wrongly: the correction is kept, ``segmentation_wrong`` is
    set and no digit sample is corrected (earlier per-digit corrections are cleared), so none trains. Can be
    changed later; the owner or staff only.
    """
    true_number = _checked_number(true_number)
    _check_is_number(submission)
    check_may_correct(submission=submission, user=user)
    with transaction.atomic():
        samples = list(submission.digit_samples.all())
        found_all = len(samples) == len(true_number)
        for position, sample in enumerate(samples):
            sample.corrected_digit = int(true_number[position]) if found_all else None
        DigitSample.objects.bulk_update(samples, ["corrected_digit"])
        submission.corrected_number = true_number
        submission.segmentation_wrong = not found_all
        submission.corrected_by = user
        submission.corrected_at = timezone.now()
        submission.save(update_fields=["corrected_number", "segmentation_wrong", "corrected_by", "corrected_at"])
    return submission


def number_digit_correct(*, submission: Submission, user, position: int, digit: int) -> Submission:
    """Set one digit of a number (``position`` 0 is the leftmost): the number's true number is the one it had
    (the correction, else what was read) with that digit changed, recorded as number_correct does, so the other
    digits are confirmed. Refused when the digits found are not the digits written (``segmentation_wrong``):
    then only the whole number can be corrected."""
    check_digit(digit)
    _check_is_number(submission)
    if submission.segmentation_wrong:
        raise InvalidCorrectionError(
            f"The digits found are not those of the number written ({submission.corrected_number}): "
            "correct the whole number instead."
        )
    samples = list(submission.digit_samples.all())
    if not samples:
        raise InvalidCorrectionError("No digit was found in this image: correct the whole number instead.")
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < len(samples):
        raise InvalidCorrectionError(
            f"The position goes from 0 (the leftmost digit) to {len(samples) - 1}, not {position!r}."
        )
    digits = [str(sample.true_digit) for sample in samples]
    digits[position] = str(digit)
    return number_correct(submission=submission, user=user, true_number="".join(digits))
