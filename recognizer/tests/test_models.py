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
