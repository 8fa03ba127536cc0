"""Numbers stored by the service: one Submission (kind "number") with its digits, corrections, deletion, the
database's rules, and single digits left exactly as they were."""

import io

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from PIL import Image

from recognizer.exceptions import (
    InvalidCorrectionError,
    InvalidImageError,
    InvalidNumberError,
    InvalidSourceError,
    NoDigitError,
    NotReplaceableError,
    TooLargeError,
    UnsupportedFormatError,
)
from recognizer.models import MAX_NUMBER_DIGITS, DigitSample, Submission
from recognizer.services import (
    account_delete,
    number_correct,
    number_create,
    number_digit_correct,
    submission_correct,
    submission_delete,
)
from recognizer.tests.conftest import number_png
from recognizer.tests.factories import DigitSampleFactory, NumberFactory, SubmissionFactory, UserFactory

pytestmark = pytest.mark.django_db


def stored_files(media_root) -> list:
    return sorted(p for p in media_root.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- reading and storing


def test_a_number_is_stored_with_its_digits_left_to_right(user, shipped_version, number_704, media_root):
    number = number_create(user=user, image_bytes=number_704, source="upload")

    number.refresh_from_db()
    assert (number.kind, number.predicted_number, number.not_a_number, number.refusal_reason) == (
        "number",
        "704",
        False,
        "",
    )
    assert 0.0 < number.confidence <= 1.0 and number.model_version == shipped_version
    assert (number.predicted_digit, number.not_a_digit, number.probabilities) == (None, False, [])
    assert not number.input_image  # each digit holds its own input
    assert number.image.name.endswith(".png") and number.image.read() == number_704

    samples = list(number.digit_samples.all())
    assert [(s.position, s.predicted_digit) for s in samples] == [(0, 7), (1, 0), (2, 4)]
    width, height = Image.open(io.BytesIO(number_704)).size
    lefts = [s.box_x for s in samples]
    assert lefts == sorted(lefts)
    for sample in samples:
        x, y, w, h = sample.box
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height and w > 10 and h > 50
        assert len(sample.probabilities) == 10 and sum(sample.probabilities) == pytest.approx(1.0, abs=1e-4)
        assert sample.confidence == pytest.approx(max(sample.probabilities))
        assert not sample.refused and sample.corrected_digit is None
        with Image.open(sample.input_image) as model_input:
            assert (model_input.size, model_input.mode) == ((28, 28), "L")
    # The original and one 28x28 input per digit: nothing else.
    assert len(stored_files(media_root)) == 4


def test_leading_zeros_are_kept(user, shipped_version):
    number = number_create(user=user, image_bytes=number_png("0427"), source="canvas")
    assert number.predicted_number == "0427" and number.digit_samples.count() == 4


def test_a_blank_image_is_no_digit_and_nothing_is_stored(user, shipped_version, blank_canvas, media_root):
    with pytest.raises(NoDigitError) as caught:
        number_create(user=user, image_bytes=blank_canvas, source="canvas")
    assert (caught.value.code, caught.value.status) == ("no_digit", 422)
    assert caught.value.details["reason"]
    assert not Submission.objects.exists() and stored_files(media_root) == []


def test_ink_with_no_digit_is_stored_as_not_a_number(user, refusing_model, number_704):
    number = number_create(user=user, image_bytes=number_704, source="api")

    number.refresh_from_db()
    assert (number.not_a_number, number.predicted_number, number.confidence) == (True, "", None)
    assert number.number is None and number.true_number is None and number.refusal_reason
    assert number.answer_label == "not a number" and not number.is_corrected
    # Its parts are kept, each refused, so a correction with as many digits can still teach them.
    samples = list(number.digit_samples.all())
    assert samples and all(sample.refused for sample in samples)


@pytest.mark.parametrize(
    ("image_bytes", "error"),
    [
        (b"", InvalidImageError),
        (b"not an image at all", InvalidImageError),
    ],
)
def test_unreadable_images_are_refused_as_for_digits(user, shipped_version, image_bytes, error):
    with pytest.raises(error):
        number_create(user=user, image_bytes=image_bytes, source="api")
    assert not Submission.objects.exists()


def test_the_same_limits_as_for_digits(user, shipped_version, settings, number_704):
    settings.DIGITVISION_MAX_UPLOAD_BYTES = len(number_704) - 1
    with pytest.raises(TooLargeError):
        number_create(user=user, image_bytes=number_704, source="api")
    settings.DIGITVISION_MAX_UPLOAD_BYTES = 10_000_000
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), "white").save(buffer, format="PPM")
    with pytest.raises(UnsupportedFormatError):
        number_create(user=user, image_bytes=buffer.getvalue(), source="api")
    with pytest.raises(InvalidSourceError):
        number_create(user=user, image_bytes=number_704, source="fax")
    assert not Submission.objects.exists()


def test_the_image_is_decoded_once(user, shipped_version, number_704, monkeypatch):
    from recognizer.services import _storage, numbers

    decoded, read = [], []
    decode, read_number = _storage.decode_image, numbers.read_number

    def decoding(image, **kwargs):
        decoded.append(image)
        return decode(image, **kwargs)

    def reading(predictor, image):
        read.append(image)
        return read_number(predictor, image)

    monkeypatch.setattr(_storage, "decode_image", decoding)
    monkeypatch.setattr(numbers, "read_number", reading)
    number_create(user=user, image_bytes=number_704, source="api")
    assert decoded == [number_704]
    [image] = read
    assert isinstance(image, Image.Image)  # decoded: ml.decode passes it through as it is


@pytest.mark.parametrize("fails", ["digit rows", "second input file"])
def test_a_failure_leaves_no_rows_and_no_files(user, shipped_version, number_704, media_root, monkeypatch, fails):
    from recognizer.services import numbers

    if fails == "digit rows":

        def broken(*args, **kwargs):
            raise IntegrityError("disk full")

        monkeypatch.setattr(DigitSample.objects, "bulk_create", broken)
    else:
        real, made = numbers.model_input_png, []

        def broken(image):
            made.append(image)
            if len(made) == 2:
                raise OSError("disk full")
            return real(image)

        monkeypatch.setattr(numbers, "model_input_png", broken)

    with pytest.raises((IntegrityError, OSError)):
        number_create(user=user, image_bytes=number_704, source="api")
    assert not Submission.objects.exists() and not DigitSample.objects.exists()
    assert stored_files(media_root) == []


def test_a_number_replaces_an_earlier_uncorrected_number_of_the_same_drawing(
    user, shipped_version, media_root, django_capture_on_commit_callbacks
):
    first = number_create(user=user, image_bytes=number_png("74"), source="canvas")
    with django_capture_on_commit_callbacks(execute=True):
        second = number_create(user=user, image_bytes=number_png("704"), source="canvas", replaces_id=first.pk)
    assert list(Submission.objects.values_list("pk", flat=True)) == [second.pk]
    assert len(stored_files(media_root)) == 4  # the first one's three files went with it

    digit = SubmissionFactory(user=user)
    for not_replaceable in (digit.pk, NumberFactory().pk, NumberFactory(user=user, corrected_number="42").pk):
        with pytest.raises(NotReplaceableError):
            number_create(user=user, image_bytes=number_png("74"), source="canvas", replaces_id=not_replaceable)
    with pytest.raises(NotReplaceableError):  # nor does a digit replace a number
        from recognizer.services import submission_create

        submission_create(user=user, image_bytes=number_png("7"), source="canvas", replaces_id=second.pk)


# --------------------------------------------------------------------------- deleting


def test_deleting_a_number_removes_its_digits_and_every_file(
    user, shipped_version, number_704, media_root, django_capture_on_commit_callbacks
):
    number = number_create(user=user, image_bytes=number_704, source="api")
    assert len(stored_files(media_root)) == 4

    with django_capture_on_commit_callbacks(execute=True):
        submission_delete(submission=number)
    assert not Submission.objects.exists() and not DigitSample.objects.exists()
    assert [p for p in stored_files(media_root) if "CACHE" not in p.parts] == []


def test_deleting_an_account_removes_its_numbers_files(
    user, shipped_version, number_704, canvas_seven, media_root, django_capture_on_commit_callbacks
):
    from recognizer.services import submission_create

    number_create(user=user, image_bytes=number_704, source="api")
    submission_create(user=user, image_bytes=canvas_seven, source="canvas")

    with django_capture_on_commit_callbacks(execute=True):
        assert account_delete(user=user) == 2
    assert not DigitSample.objects.exists() and stored_files(media_root) == []


# --------------------------------------------------------------------------- correcting


def test_a_correction_with_as_many_digits_corrects_each_digit(user):
    number = NumberFactory(user=user, predicted_number="704")

    number_correct(submission=number, user=user, true_number="701")

    number.refresh_from_db()
    assert (number.corrected_number, number.segmentation_wrong, number.true_number) == ("701", False, "701")
    assert number.is_corrected and not number.is_confirmed and number.corrected_by == user
    assert [s.corrected_digit for s in number.digit_samples.all()] == [7, 0, 1]
    assert [s.true_digit for s in number.digit_samples.all()] == [7, 0, 1]


def test_confirming_what_was_read(user):
    number = NumberFactory(user=user, predicted_number="0427")
    number_correct(submission=number, user=user, true_number="0427")
    number.refresh_from_db()
    assert number.is_confirmed and number.true_answer_label == "0427"
    assert [s.corrected_digit for s in number.digit_samples.all()] == [0, 4, 2, 7]


def test_another_count_of_digits_marks_the_segmentation_wrong_and_corrects_no_digit(user):
    number = NumberFactory(user=user, predicted_number="704")
    number_correct(submission=number, user=user, true_number="701")  # first as many digits ...

    number_correct(submission=number, user=user, true_number="2026")  # ... then it was four

    number.refresh_from_db()
    assert (number.corrected_number, number.segmentation_wrong, number.true_number) == ("2026", True, "2026")
    assert [s.corrected_digit for s in number.digit_samples.all()] == [None, None, None]

    number_correct(submission=number, user=user, true_number="714")  # and back: the digits were right after all
    number.refresh_from_db()
    assert not number.segmentation_wrong
    assert [s.corrected_digit for s in number.digit_samples.all()] == [7, 1, 4]


def test_not_a_number_can_be_corrected_to_the_number_it_is(user):
    number = NumberFactory(user=user, refused=True, digits="12")
    number_correct(submission=number, user=user, true_number="12")
    number.refresh_from_db()
    assert (number.true_number, number.segmentation_wrong, number.true_answer_label) == ("12", False, "12")
    assert [s.corrected_digit for s in number.digit_samples.all()] == [1, 2]


@pytest.mark.parametrize(
    ("true_number", "message"),
    [
        ("", "1 to 12 digits"),
        ("20a6", "'a'"),
        ("-12", "'-'"),
        ("12.5", "'.'"),
        (" 12", "' '"),
        ("١٢", "digits 0-9 only"),  # Arabic-Indic digits: str.isdigit() says yes, a number here says no
        ("1" * (MAX_NUMBER_DIGITS + 1), "at most 12 digits"),
        (2026, "text made of digits"),
        (None, "text made of digits"),
    ],
)
def test_a_true_number_is_1_to_12_of_the_digits_0_to_9(user, true_number, message):
    number = NumberFactory(user=user)
    with pytest.raises(InvalidNumberError, match=message) as caught:
        number_correct(submission=number, user=user, true_number=true_number)
    assert (caught.value.code, caught.value.status) == ("invalid_number", 400)
    number.refresh_from_db()
    assert not number.is_corrected


def test_twelve_digits_is_the_longest_number(user):
    number = NumberFactory(user=user, predicted_number="1" * MAX_NUMBER_DIGITS)
    number_correct(submission=number, user=user, true_number="0" * MAX_NUMBER_DIGITS)
    assert number.digit_samples.filter(corrected_digit=0).count() == MAX_NUMBER_DIGITS


def test_only_the_owner_or_staff_correct_a_number(user, staff):
    number = NumberFactory(user=user)
    with pytest.raises(PermissionDenied):
        number_correct(submission=number, user=UserFactory(), true_number="41")
    number_correct(submission=number, user=staff, true_number="41")
    number.refresh_from_db()
    assert (number.true_number, number.corrected_by) == ("41", staff)


def test_one_digit_corrected_confirms_the_others(user):
    number = NumberFactory(user=user, predicted_number="704")

    number_digit_correct(submission=number, user=user, position=2, digit=1)
    number.refresh_from_db()
    assert number.corrected_number == "701"
    assert [s.corrected_digit for s in number.digit_samples.all()] == [7, 0, 1]

    number_digit_correct(submission=number, user=user, position=0, digit=2)  # on top of the correction
    number.refresh_from_db()
    assert number.corrected_number == "201"


def test_one_digit_cannot_be_corrected_when_the_digits_found_are_wrong(user):
    number = NumberFactory(user=user, predicted_number="704")
    number_correct(submission=number, user=user, true_number="2026")
    with pytest.raises(InvalidCorrectionError, match="correct the whole number"):
        number_digit_correct(submission=number, user=user, position=0, digit=2)
    for position in (3, -1, True):
        with pytest.raises(InvalidCorrectionError, match="position"):
            number_digit_correct(submission=NumberFactory(user=user), user=user, position=position, digit=1)
    with pytest.raises(InvalidCorrectionError, match="from 0 to 9"):
        number_digit_correct(submission=NumberFactory(user=user), user=user, position=0, digit=10)
    with pytest.raises(PermissionDenied):
        number_digit_correct(submission=NumberFactory(), user=user, position=0, digit=1)


def test_a_digit_and_a_number_are_each_corrected_their_own_way(user):
    with pytest.raises(InvalidCorrectionError):
        submission_correct(submission=NumberFactory(user=user), user=user, digit=4)
    with pytest.raises(InvalidCorrectionError):
        number_correct(submission=SubmissionFactory(user=user), user=user, true_number="4")


# --------------------------------------------------------------------------- the database's rules


def number_row(**fields) -> dict:
    return {"kind": "number", "predicted_number": "42", "confidence": 0.9, "probabilities": [], **fields}


@pytest.mark.parametrize(
    "wrong",
    [
        {"predicted_digit": 4},  # a number has no digit fields ...
        {"not_a_digit": True, "predicted_number": "", "confidence": None},
        {"corrected_digit": 4},
        {"corrected_not_a_digit": True},
        {"predicted_number": ""},  # ... a number read has its digits and its confidence ...
        {"confidence": None},
        {"not_a_number": True},  # ... and "not a number" has neither
        {"refusal_reason": "not a number"},
        {"segmentation_wrong": True},  # wrong only against a correction
        {"kind": "letter"},
    ],
)
def test_the_database_holds_a_number_to_its_rules(wrong):
    number = NumberFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=number.pk).update(**wrong)


@pytest.mark.parametrize(
    "wrong",
    [{"predicted_number": "7"}, {"not_a_number": True}, {"corrected_number": "7"}, {"segmentation_wrong": True}],
)
def test_a_digit_has_no_number_fields(wrong):
    digit = SubmissionFactory(predicted_digit=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=digit.pk).update(**wrong)


def test_one_digit_sample_per_position_each_in_range():
    number = NumberFactory(predicted_number="42")
    with pytest.raises(IntegrityError), transaction.atomic():
        DigitSampleFactory(submission=number, position=1)
    sample = number.digit_samples.first()
    for wrong in ({"predicted_digit": 10}, {"corrected_digit": 10}, {"confidence": 1.5}):
        with pytest.raises(IntegrityError), transaction.atomic():
            DigitSample.objects.filter(pk=sample.pk).update(**wrong)


def test_the_models_and_the_reader_agree_on_the_longest_number():
    from ml.numbers import MAX_DIGITS

    assert MAX_NUMBER_DIGITS == MAX_DIGITS
    assert Submission._meta.get_field("predicted_number").max_length == MAX_DIGITS


def test_the_labels_of_a_number():
    number = NumberFactory(predicted_number="0427")
    assert (number.answer_label, number.true_answer_label, str(number)) == (
        "0427",
        "0427",
        f"#{number.pk}: 0427 (Canvas)",
    )
    sample = number.digit_samples.first()
    assert (sample.box, sample.true_digit) == ((8, 8, 40, 48), 0)


# --------------------------------------------------------------------------- single digits as they were


def test_digit_queries_never_see_numbers(user):
    from recognizer.selectors import (
        number_list_for_user,
        submission_corrections_for_review,
        submission_corrections_for_training,
        submission_get_for_user,
        submission_list_for_user,
    )

    digit = SubmissionFactory(user=user, corrected_digit=3)
    number = NumberFactory(user=user, corrected_number="42")

    assert list(submission_list_for_user(user=user)) == [digit]
    assert list(submission_list_for_user(user=user, corrected=True)) == [digit]
    assert list(submission_corrections_for_review()) == [digit]
    assert list(submission_corrections_for_training()) == [digit]
    with pytest.raises(Submission.DoesNotExist):
        submission_get_for_user(user=user, submission_id=number.pk)
    assert list(number_list_for_user(user=user)) == [number]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_rows_made_before_numbers_as_digits():
    """Rows stored before 0005 (digits and refusals, some corrected) come through it as single digits, and the
    rewritten constraints hold for them."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = (("recognizer", "0004_submission_not_a_digit"), ("recognizer", "0005_numbers"))
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        old = executor.loader.project_state([before]).apps
        user = old.get_model("auth", "User").objects.create(username="before")
        version = old.get_model("recognizer", "ModelVersion").objects.create(name="v", weights_path="v.pt", sha256="a")
        old_submission = old.get_model("recognizer", "Submission")
        fields = {"user": user, "model_version": version, "image": "a.png", "input_image": "b.png", "source": "canvas"}
        digit = old_submission.objects.create(
            **fields, predicted_digit=3, confidence=0.9, probabilities=[0.1] * 10, corrected_digit=8
        )
        refused = old_submission.objects.create(
            **fields, not_a_digit=True, refusal_reason="not a digit", probabilities=[0.1] * 10
        )

        executor = MigrationExecutor(connection)
        executor.migrate([after])

        new = executor.loader.project_state([after]).apps.get_model("recognizer", "Submission")
        rows = {row.pk: row for row in new.objects.all()}
        assert {(r.kind, r.predicted_number, r.corrected_number, r.segmentation_wrong) for r in rows.values()} == {
            ("digit", "", "", False)
        }
        assert (rows[digit.pk].corrected_digit, rows[refused.pk].not_a_digit) == (8, True)
        with pytest.raises(IntegrityError), transaction.atomic():
            new.objects.filter(pk=digit.pk).update(predicted_number="3")
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
