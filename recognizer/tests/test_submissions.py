"""submission_create and submission_correct: what is stored, what is refused, and that failures leave nothing."""

import io
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from PIL import Image

from recognizer.exceptions import (
    DigitVisionError,
    InvalidCorrectionError,
    InvalidImageError,
    InvalidSourceError,
    NoDigitError,
    NotCorrectedError,
    NotReplaceableError,
    SubmissionError,
    TooLargeError,
    UnsupportedFormatError,
)
from recognizer.models import Submission
from recognizer.services import submission_correct, submission_create, submission_set_training_use
from recognizer.tests.factories import SubmissionFactory, UserFactory

pytestmark = pytest.mark.django_db


def media_files(media_root: Path) -> list[Path]:
    return sorted(p for p in Path(media_root).rglob("*") if p.is_file())


def encoded(image_bytes: bytes, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(image_bytes)).convert("RGB" if fmt == "JPEG" else "RGBA").save(buffer, format=fmt)
    return buffer.getvalue()


def test_create_stores_the_prediction_and_two_generated_files(user, shipped_version, canvas_seven, media_root):
    submission = submission_create(user=user, image_bytes=canvas_seven, source="canvas")

    submission.refresh_from_db()
    assert submission.user == user
    assert submission.predicted_digit == 7
    assert 0.5 < submission.confidence <= 1.0
    assert len(submission.probabilities) == 10 and sum(submission.probabilities) == pytest.approx(1.0, abs=1e-4)
    assert submission.probabilities[7] == pytest.approx(submission.confidence)
    assert submission.model_version == shipped_version
    assert submission.source == Submission.Source.CANVAS
    assert not submission.is_corrected

    original, model_input = Path(submission.image.path), Path(submission.input_image.path)
    assert original.read_bytes() == canvas_seven
    assert original.suffix == ".png" and submission.image.name.startswith("submissions/")
    with Image.open(model_input) as img:
        assert (img.format, img.size, img.mode) == ("PNG", (28, 28), "L")
    assert original.stem != model_input.stem
    assert sorted(media_files(media_root)) == sorted([original, model_input])


def test_create_recognises_a_drawn_one(user, shipped_version, canvas_one):
    assert submission_create(user=user, image_bytes=canvas_one, source="upload").predicted_digit == 1


@pytest.mark.parametrize(
    ("fmt", "suffix"),
    [("JPEG", ".jpg"), ("HEIF", ".heic"), ("AVIF", ".avif"), ("WEBP", ".webp"), ("GIF", ".gif"), ("BMP", ".bmp")],
)
def test_stored_extension_comes_from_the_decoded_format(user, shipped_version, digit_png, fmt, suffix):
    data = encoded(digit_png.read_bytes(), fmt)

    submission = submission_create(user=user, image_bytes=data, source="api")

    assert Path(submission.image.name).suffix == suffix
    assert submission.predicted_digit == 7
    assert "seven" not in submission.image.name and "original" not in submission.image.name


def test_names_are_generated_not_taken_from_the_upload(user, shipped_version, digit_png):
    first = submission_create(user=user, image_bytes=digit_png.read_bytes(), source="upload")
    second = submission_create(user=user, image_bytes=digit_png.read_bytes(), source="upload")

    assert first.image.name != second.image.name
    assert len(Path(first.image.name).stem) == 32  # a uuid4 hex


def assert_nothing_stored(media_root: Path) -> None:
    assert not Submission.objects.exists()
    assert media_files(media_root) == []


def test_blank_image_is_no_digit_and_stores_nothing(user, shipped_version, blank_canvas, media_root):
    with pytest.raises(NoDigitError) as excinfo:
        submission_create(user=user, image_bytes=blank_canvas, source="canvas")

    assert excinfo.value.code == "no_digit" and str(excinfo.value)
    assert isinstance(excinfo.value, SubmissionError) and excinfo.value.status == 422
    assert excinfo.value.details["reason"]
    assert_nothing_stored(media_root)


@pytest.mark.parametrize("data", [b"this is not an image\n", b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64])
def test_unreadable_bytes_are_invalid_and_store_nothing(user, shipped_version, media_root, data):
    with pytest.raises(InvalidImageError) as excinfo:
        submission_create(user=user, image_bytes=data, source="upload")

    assert excinfo.value.code == "invalid_image"
    assert_nothing_stored(media_root)


def test_truncated_image_is_invalid(user, shipped_version, digit_png, media_root):
    data = encoded(digit_png.read_bytes(), "JPEG")
    with pytest.raises(InvalidImageError):
        submission_create(user=user, image_bytes=data[: len(data) // 2], source="upload")
    assert_nothing_stored(media_root)


def test_too_many_bytes_is_too_large(user, shipped_version, settings, digit_png, media_root):
    settings.DIGITVISION_MAX_UPLOAD_BYTES = 100
    with pytest.raises(TooLargeError) as excinfo:
        submission_create(user=user, image_bytes=digit_png.read_bytes(), source="upload")

    assert excinfo.value.code == "too_large" and "limit" in str(excinfo.value)
    assert_nothing_stored(media_root)


def test_too_many_pixels_is_too_large(user, shipped_version, monkeypatch, digit_png, media_root):
    monkeypatch.setattr("ml.decode.MAX_PIXELS", 100 * 100)  # the one pixel cap, where images are decoded
    with pytest.raises(TooLargeError, match="pixels"):
        submission_create(user=user, image_bytes=digit_png.read_bytes(), source="upload")
    assert_nothing_stored(media_root)


def test_unknown_source_is_refused(user, shipped_version, digit_png):
    with pytest.raises(InvalidSourceError, match="unknown source") as excinfo:
        submission_create(user=user, image_bytes=digit_png.read_bytes(), source="fax")
    assert (excinfo.value.code, excinfo.value.status) == ("invalid_source", 400)


def test_an_undocumented_format_is_refused_before_it_is_decoded(user, shipped_version, digit_png, media_root):
    buffer = io.BytesIO()
    Image.open(digit_png).save(buffer, format="PPM")
    with pytest.raises(UnsupportedFormatError, match="PPM") as excinfo:
        submission_create(user=user, image_bytes=buffer.getvalue(), source="upload")
    assert excinfo.value.status == 415 and excinfo.value.details == {"format": "PPM"}
    assert_nothing_stored(media_root)


def test_each_image_is_opened_once(user, shipped_version, digit_png, monkeypatch):
    """One decode serves the format check, the pixel cap, the stored extension and the prediction."""
    opened = []
    real_open = Image.open

    def counting_open(*args, **kwargs):
        opened.append(args)
        return real_open(*args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    data = encoded(digit_png.read_bytes(), "JPEG")
    opened.clear()
    submission = submission_create(user=user, image_bytes=data, source="upload")
    assert len(opened) == 1
    assert submission.image.name.endswith(".jpg") and submission.predicted_digit == 7


def test_replacing_deletes_the_earlier_submission_in_the_same_transaction(
    user, shipped_version, canvas_one, canvas_seven, media_root, django_capture_on_commit_callbacks
):
    first = submission_create(user=user, image_bytes=canvas_one, source="canvas")
    with django_capture_on_commit_callbacks(execute=True):
        second = submission_create(user=user, image_bytes=canvas_seven, source="canvas", replaces_id=first.pk)
    assert list(Submission.objects.values_list("pk", flat=True)) == [second.pk]
    assert sorted(media_files(media_root)) == sorted([Path(second.image.path), Path(second.input_image.path)])


@pytest.mark.parametrize("which", ["corrected", "foreign", "missing"])
def test_only_an_own_uncorrected_submission_is_replaced(user, shipped_version, canvas_seven, media_root, which):
    earlier = {
        "corrected": lambda: SubmissionFactory(user=user, corrected_digit=3),
        "foreign": lambda: SubmissionFactory(),
        "missing": lambda: None,
    }[which]()
    before = media_files(media_root)
    with pytest.raises(NotReplaceableError) as excinfo:
        submission_create(
            user=user, image_bytes=canvas_seven, source="canvas", replaces_id=earlier.pk if earlier else 999_999
        )
    assert (excinfo.value.code, excinfo.value.status) == ("not_replaceable", 409)
    assert Submission.objects.count() == (1 if earlier else 0)
    assert media_files(media_root) == before


def test_a_correction_saved_while_predicting_keeps_the_replaced_submission(
    user, shipped_version, canvas_one, canvas_seven, media_root, monkeypatch
):
    """Checked again, locked, in the transaction: a correction that lands during the prediction wins."""
    from recognizer import serving

    first = submission_create(user=user, image_bytes=canvas_one, source="canvas")
    before = media_files(media_root)
    real_get_predictor = serving.get_predictor

    def correcting_meanwhile():
        Submission.objects.filter(pk=first.pk).update(corrected_digit=1)
        return real_get_predictor()

    monkeypatch.setattr(serving, "get_predictor", correcting_meanwhile)
    with pytest.raises(NotReplaceableError):
        submission_create(user=user, image_bytes=canvas_seven, source="canvas", replaces_id=first.pk)
    assert list(Submission.objects.values_list("pk", flat=True)) == [first.pk]
    assert media_files(media_root) == before


def test_failure_after_files_were_written_leaves_no_files_and_no_row(
    user, shipped_version, canvas_seven, media_root, monkeypatch
):
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Submission, "save", broken_save)

    with pytest.raises(RuntimeError, match="went away"):
        submission_create(user=user, image_bytes=canvas_seven, source="canvas")

    monkeypatch.undo()
    assert_nothing_stored(media_root)


def test_failure_writing_the_second_file_removes_the_first(
    user, shipped_version, canvas_seven, media_root, monkeypatch
):
    import recognizer.services.submissions as services

    def broken_png(image):
        raise OSError("disk full")

    monkeypatch.setattr(services, "model_input_png", broken_png)

    with pytest.raises(OSError, match="disk full"):
        submission_create(user=user, image_bytes=canvas_seven, source="canvas")
    assert_nothing_stored(media_root)


def test_correct_sets_the_correction_and_can_change_it(user):
    submission = SubmissionFactory(user=user, predicted_digit=4)

    submission_correct(submission=submission, user=user, digit=9)

    submission.refresh_from_db()
    assert submission.corrected_digit == 9 and submission.true_digit == 9
    assert submission.corrected_by == user and submission.corrected_at is not None
    first_time = submission.corrected_at

    submission_correct(submission=submission, user=user, digit=4)  # confirming the prediction after all

    submission.refresh_from_db()
    assert submission.corrected_digit == 4 and submission.is_corrected
    assert submission.corrected_at >= first_time


@pytest.mark.parametrize("digit", [-1, 10, 3.0, "3", None, True])
def test_correct_refuses_anything_but_0_to_9(user, digit):
    submission = SubmissionFactory(user=user)
    with pytest.raises(InvalidCorrectionError, match="0 to 9") as excinfo:
        submission_correct(submission=submission, user=user, digit=digit)
    assert isinstance(excinfo.value, DigitVisionError) and excinfo.value.status == 400
    submission.refresh_from_db()
    assert not submission.is_corrected


def test_correct_is_for_the_owner_or_staff(user, staff):
    submission = SubmissionFactory(user=user, predicted_digit=2)
    with pytest.raises(PermissionDenied):
        submission_correct(submission=submission, user=UserFactory(), digit=3)

    submission_correct(submission=submission, user=staff, digit=3)
    submission.refresh_from_db()
    assert submission.corrected_digit == 3 and submission.corrected_by == staff


def test_training_use_is_only_for_a_corrected_submission(staff):
    submission = SubmissionFactory()
    with pytest.raises(NotCorrectedError) as excinfo:
        submission_set_training_use(submission=submission, user=staff, use=False)
    assert (excinfo.value.code, excinfo.value.status) == ("not_corrected", 409)


# --------------------------------------------------------------------------- the third answer: not a digit


def canvas_eleven() -> bytes:
    """Two upright strokes side by side: what a refusing model calls "looks like several digits"."""
    from recognizer.tests.conftest import canvas_png

    return canvas_png(lambda d: [d.line([(x, 60), (x, 220)], fill=(0, 0, 0, 255), width=30) for x in (100, 180)])


def test_not_a_digit_is_stored_with_its_reason_and_no_digit(user, refusing_model, canvas_seven, media_root):
    submission = submission_create(user=user, image_bytes=canvas_seven, source="canvas")

    submission.refresh_from_db()
    assert submission.not_a_digit and submission.refusal_reason == "not a digit"
    assert submission.predicted_digit is None and submission.confidence is None
    assert len(submission.probabilities) == 10 and sum(submission.probabilities) == pytest.approx(1.0, abs=1e-4)
    assert submission.closest_probability == max(submission.probabilities)
    assert submission.true_not_a_digit and submission.true_digit is None and not submission.is_corrected
    assert submission.model_version == refusing_model
    with Image.open(submission.input_image.path) as img:  # what the model saw, kept for retraining
        assert img.size == (28, 28)
    assert len(media_files(media_root)) == 2


def test_several_digits_is_the_reason_for_digits_side_by_side(user, refusing_model):
    submission = submission_create(user=user, image_bytes=canvas_eleven(), source="canvas")
    assert submission.not_a_digit and submission.refusal_reason == "looks like several digits"


def test_a_model_that_never_refuses_answers_a_digit(user, shipped_version, canvas_seven):
    from recognizer import serving

    serving.get_predictor()[0].backend.rejection_threshold = None  # the shipped model's, said explicitly
    submission = submission_create(user=user, image_bytes=canvas_seven, source="canvas")
    assert not submission.not_a_digit and submission.refusal_reason == ""
    assert submission.predicted_digit == 7 and submission.closest_digit == 7
    assert submission.closest_probability == submission.confidence


def test_blank_is_still_no_digit_when_the_model_refuses(user, refusing_model, blank_canvas, media_root):
    with pytest.raises(NoDigitError):
        submission_create(user=user, image_bytes=blank_canvas, source="canvas")
    assert_nothing_stored(media_root)


def test_a_refused_submission_can_be_replaced_and_replace(user, refusing_model, canvas_one, canvas_seven):
    first = submission_create(user=user, image_bytes=canvas_one, source="canvas")
    second = submission_create(user=user, image_bytes=canvas_seven, source="canvas", replaces_id=first.pk)
    assert list(Submission.objects.values_list("pk", flat=True)) == [second.pk]


def test_a_submission_corrected_to_not_a_digit_is_not_replaced(user, shipped_version, canvas_seven):
    earlier = SubmissionFactory(user=user, predicted_digit=1, corrected_not_a_digit=True)
    with pytest.raises(NotReplaceableError):
        submission_create(user=user, image_bytes=canvas_seven, source="canvas", replaces_id=earlier.pk)
    assert Submission.objects.filter(pk=earlier.pk).exists()


def test_correct_a_digit_to_not_a_digit_and_back(user):
    submission = SubmissionFactory(user=user, predicted_digit=4)

    submission_correct(submission=submission, user=user, not_a_digit=True)

    submission.refresh_from_db()
    assert submission.corrected_not_a_digit and submission.corrected_digit is None
    assert submission.is_corrected and submission.true_not_a_digit and submission.true_digit is None
    assert not submission.is_confirmed and submission.corrected_by == user

    submission_correct(submission=submission, user=user, digit=4)  # a digit after all: the flag goes

    submission.refresh_from_db()
    assert not submission.corrected_not_a_digit and submission.corrected_digit == 4
    assert submission.is_confirmed and not submission.true_not_a_digit


def test_correct_a_refusal_to_a_digit_or_confirm_it(user):
    refused = SubmissionFactory(user=user, refused=True)

    submission_correct(submission=refused, user=user, digit=2)

    refused.refresh_from_db()
    assert (refused.corrected_digit, refused.true_digit, refused.true_not_a_digit) == (2, 2, False)
    assert refused.not_a_digit and not refused.is_confirmed  # what the model said is kept

    submission_correct(submission=refused, user=user, not_a_digit=True)  # confirming the refusal

    refused.refresh_from_db()
    assert refused.corrected_not_a_digit and refused.corrected_digit is None
    assert refused.is_confirmed and refused.true_not_a_digit and refused.true_digit is None


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({}, "or say it is not a digit"),
        ({"not_a_digit": False}, "or say it is not a digit"),
        ({"digit": 3, "not_a_digit": True}, "not both"),
        ({"digit": 0, "not_a_digit": True}, "not both"),
        ({"not_a_digit": "yes"}, "true or false"),
        ({"not_a_digit": 1}, "true or false"),
    ],
)
def test_correct_takes_exactly_one_answer(user, answer, message):
    submission = SubmissionFactory(user=user)
    with pytest.raises(InvalidCorrectionError, match=message) as excinfo:
        submission_correct(submission=submission, user=user, **answer)
    assert (excinfo.value.code, excinfo.value.status) == ("invalid_digit", 400)
    submission.refresh_from_db()
    assert not submission.is_corrected


def test_correct_to_not_a_digit_is_for_the_owner_or_staff(user, staff):
    submission = SubmissionFactory(user=user)
    with pytest.raises(PermissionDenied):
        submission_correct(submission=submission, user=UserFactory(), not_a_digit=True)
    submission_correct(submission=submission, user=staff, not_a_digit=True)
    submission.refresh_from_db()
    assert submission.corrected_not_a_digit and submission.corrected_by == staff


def test_a_correction_to_not_a_digit_can_be_left_out_of_training(staff):
    submission = SubmissionFactory(corrected_not_a_digit=True)
    submission_set_training_use(submission=submission, user=staff, use=False)
    submission.refresh_from_db()
    assert submission.excluded_from_training
