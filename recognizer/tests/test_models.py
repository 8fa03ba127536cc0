"""Model-level guarantees: one active version, digit ranges, and the derived properties."""

import pytest
from django.db import IntegrityError, transaction

from recognizer.models import Submission
from recognizer.tests.factories import ModelVersionFactory, SubmissionFactory

pytestmark = pytest.mark.django_db


def test_at_most_one_model_version_is_active():
    ModelVersionFactory(is_active=True)
    ModelVersionFactory(is_active=False)
    ModelVersionFactory(is_active=False)

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(is_active=True)


def test_model_version_str_is_its_name():
    assert str(ModelVersionFactory(name="digitnet-bdfc2471")) == "digitnet-bdfc2471"


@pytest.mark.parametrize("field", ["predicted_digit", "corrected_digit"])
def test_digits_outside_0_to_9_are_refused_by_the_database(field):
    submission = SubmissionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(**{field: 10})


def test_true_digit_is_the_correction_when_there_is_one():
    submission = SubmissionFactory(predicted_digit=3)
    assert not submission.is_corrected and submission.true_digit == 3

    submission.corrected_digit = 8
    assert submission.is_corrected and submission.true_digit == 8

    submission.corrected_digit = 0  # zero is a real correction, not "no correction"
    assert submission.is_corrected and submission.true_digit == 0


def test_model_version_with_submissions_cannot_be_deleted():
    from django.db.models import ProtectedError

    submission = SubmissionFactory()
    with pytest.raises(ProtectedError):
        submission.model_version.delete()


def test_submissions_are_newest_first():
    older, newer = SubmissionFactory(), SubmissionFactory()
    assert list(Submission.objects.all()) == [newer, older]


# --------------------------------------------------------------------------- a digit, or not a digit


@pytest.mark.parametrize(
    "answer",
    [
        {"predicted_digit": None},  # a digit needs its digit ...
        {"confidence": None},  # ... and its confidence
        {"not_a_digit": True},  # "not a digit" has neither
        {"not_a_digit": True, "predicted_digit": None},
        {"not_a_digit": True, "confidence": None},
        {"refusal_reason": "not a digit"},  # a digit has no refusal reason
    ],
)
def test_the_database_holds_one_answer_a_digit_or_not_a_digit(answer):
    submission = SubmissionFactory(predicted_digit=3, confidence=0.8)
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(**answer)


def test_a_refused_submission_is_valid_without_digit_or_confidence():
    refused = SubmissionFactory(refused=True)
    refused.refresh_from_db()
    assert (refused.not_a_digit, refused.predicted_digit, refused.confidence) == (True, None, None)
    assert refused.true_not_a_digit and refused.true_digit is None and not refused.is_corrected
    assert refused.closest_digit == 4 and refused.closest_probability == pytest.approx(0.31)
    assert (refused.answer_label, refused.true_answer_label) == ("not a digit", "not a digit")
    assert str(refused) == f"#{refused.pk}: not a digit (Canvas)"


def test_a_correction_is_a_digit_or_not_a_digit_never_both():
    submission = SubmissionFactory(corrected_digit=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(corrected_not_a_digit=True)


@pytest.mark.parametrize(
    ("model", "correction", "true_digit", "true_not_a_digit", "confirmed"),
    [
        ({"predicted_digit": 3}, {}, 3, False, False),
        ({"predicted_digit": 3}, {"corrected_digit": 3}, 3, False, True),
        ({"predicted_digit": 3}, {"corrected_digit": 5}, 5, False, False),
        ({"predicted_digit": 3}, {"corrected_not_a_digit": True}, None, True, False),
        ({"refused": True}, {}, None, True, False),
        ({"refused": True}, {"corrected_digit": 0}, 0, False, False),
        ({"refused": True}, {"corrected_not_a_digit": True}, None, True, True),
    ],
)
def test_the_true_answer_in_python_and_in_the_database_agree(
    model, correction, true_digit, true_not_a_digit, confirmed
):
    submission = SubmissionFactory(**model, **correction)
    SubmissionFactory(predicted_digit=9)  # another answer, matched by none of the filters below

    assert (submission.true_digit, submission.true_not_a_digit) == (true_digit, true_not_a_digit)
    assert submission.is_corrected == bool(correction) and submission.is_confirmed == confirmed
    qs = Submission.objects.exclude(predicted_digit=9)
    assert qs.with_true_not_a_digit(True).exists() == true_not_a_digit
    assert qs.with_true_not_a_digit(False).exists() == (not true_not_a_digit)
    assert qs.with_true_answer("not_a_digit").exists() == true_not_a_digit
    assert qs.with_answer("not_a_digit").exists() == submission.not_a_digit
    assert qs.with_answer("digit").exists() == (not submission.not_a_digit)
    if true_digit is not None:
        assert list(Submission.objects.with_true_digit(true_digit)) == [submission]
    assert qs.corrected().exists() == bool(correction) and qs.corrected(False).exists() == (not correction)
    if correction:
        assert qs.in_review_state("confirmed").exists() == confirmed
        assert qs.in_review_state("changed").exists() == (not confirmed)
    else:  # an uncorrected submission is neither changed nor confirmed
        assert not qs.in_review_state("confirmed").exists() and not qs.in_review_state("changed").exists()


def test_answer_filters_refuse_an_unknown_answer():
    with pytest.raises(ValueError, match="unknown answer"):
        Submission.objects.with_answer("maybe")
    with pytest.raises(ValueError, match="unknown answer"):
        Submission.objects.with_true_answer("maybe")


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_rows_made_before_not_a_digit_valid():
    """Rows stored before 0004 (digits, some corrected) come through it as digits, uncorrected or corrected
    to a digit, and the new constraints hold for them."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = (
        ("recognizer", "0003_submission_excluded_from_training"),
        ("recognizer", "0004_submission_not_a_digit"),
    )
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    try:
        old = executor.loader.project_state([before]).apps
        user = old.get_model("auth", "User").objects.create(username="before")
        version = old.get_model("recognizer", "ModelVersion").objects.create(name="v", weights_path="v.pt", sha256="a")
        old_submission = old.get_model("recognizer", "Submission")
        fields = {"user": user, "model_version": version, "image": "a.png", "input_image": "b.png", "source": "canvas"}
        plain = old_submission.objects.create(**fields, predicted_digit=3, confidence=0.9, probabilities=[0.1] * 10)
        fixed = old_submission.objects.create(
            **fields, predicted_digit=3, confidence=0.4, probabilities=[0.1] * 10, corrected_digit=8
        )

        executor = MigrationExecutor(connection)
        executor.migrate([after])

        new = executor.loader.project_state([after]).apps.get_model("recognizer", "Submission")
        rows = {row.pk: row for row in new.objects.all()}
        assert (rows[plain.pk].predicted_digit, rows[plain.pk].not_a_digit, rows[plain.pk].refusal_reason) == (
            3,
            False,
            "",
        )
        assert (rows[fixed.pk].corrected_digit, rows[fixed.pk].corrected_not_a_digit) == (8, False)
        with pytest.raises(IntegrityError), transaction.atomic():
            new.objects.filter(pk=plain.pk).update(not_a_digit=True)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
