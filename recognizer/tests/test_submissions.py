"""submission_create and submission_correct: what is stored, what is refused, and that failures leave nothing."""

import io
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from PIL import Image

from recognizer.exceptions import InvalidImageError, NoDigitError, SubmissionError, TooLargeError
from recognizer.models import Submission
from recognizer.services import submission_correct, submission_create
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
    assert isinstance(excinfo.value, SubmissionError) and isinstance(excinfo.value, ValueError)
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
    monkeypatch.setattr("recognizer.services.submissions.MAX_PIXELS", 100 * 100)
    with pytest.raises(TooLargeError, match="pixels"):
        submission_create(user=user, image_bytes=digit_png.read_bytes(), source="upload")
    assert_nothing_stored(media_root)


def test_unknown_source_is_refused(user, shipped_version, digit_png):
    with pytest.raises(ValueError, match="unknown source"):
        submission_create(user=user, image_bytes=digit_png.read_bytes(), source="fax")


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

    monkeypatch.setattr(services, "_png_of_input", broken_png)

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
    with pytest.raises(ValueError, match="0 to 9"):
        submission_correct(submission=submission, user=user, digit=digit)
    submission.refresh_from_db()
    assert not submission.is_corrected


def test_correct_is_for_the_owner_or_staff(user):
    submission = SubmissionFactory(user=user, predicted_digit=2)
    with pytest.raises(PermissionDenied):
        submission_correct(submission=submission, user=UserFactory(), digit=3)

    staff = UserFactory(is_staff=True)
    submission_correct(submission=submission, user=staff, digit=3)
    submission.refresh_from_db()
    assert submission.corrected_digit == 3 and submission.corrected_by == staff
