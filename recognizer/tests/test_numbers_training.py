"""The digits of corrected numbers are retraining data, like corrected single digits; a number whose digits were
found wrongly (another count of digits) is not."""

import numpy as np
import pytest

from ml.retrain import split_key_is_holdout
from recognizer.selectors import digit_sample_corrections_for_training, input_pixels
from recognizer.services import number_correct, number_create, submission_set_training_use
from recognizer.services import training_execution as execution
from recognizer.services.training_runs import (
    training_correction_key,
    training_correction_keys,
    training_digit_sample_key,
    training_run_problem,
)
from recognizer.tests.conftest import number_png
from recognizer.tests.factories import NumberFactory, SubmissionFactory
from recognizer.tests.test_training_services import fake_ml, run_queued  # noqa: F401 - fake_ml is a fixture

pytestmark = pytest.mark.django_db


def test_a_corrected_numbers_digits_reach_the_retraining_set_with_their_stored_inputs(user, shipped_version):
    number = number_create(user=user, image_bytes=number_png("704"), source="canvas")
    number_correct(submission=number, user=user, true_number="701")

    corrections, skipped = execution.training_corrections()

    assert skipped == []
    assert corrections.labels.tolist() == [7, 0, 1]
    assert corrections.keys == [training_digit_sample_key(submission_id=number.pk, position=p) for p in range(3)]
    samples = list(number.digit_samples.all())
    expected = np.stack([input_pixels(sample.input_image) for sample in samples])
    assert np.array_equal(corrections.images, expected)  # the 28x28 inputs the model saw, as stored
    assert corrections.images.shape == (3, 28, 28) and corrections.images.max() <= 1.0


def test_another_count_of_digits_does_not_reach_it(user):
    number = NumberFactory(user=user, predicted_number="704")
    number_correct(submission=number, user=user, true_number="701")
    number_correct(submission=number, user=user, true_number="2026")  # four digits were written, three found

    corrections, _ = execution.training_corrections()

    assert len(corrections) == 0 and training_correction_keys() == []
    assert not digit_sample_corrections_for_training().exists()


def test_single_digits_first_then_numbers_digits_and_only_what_staff_keep(user, staff):
    digit = SubmissionFactory(user=user, predicted_digit=3, corrected_digit=8)
    SubmissionFactory(user=user)  # uncorrected
    kept = NumberFactory(user=user, predicted_number="42")
    number_correct(submission=kept, user=user, true_number="42")
    left_out = NumberFactory(user=user, predicted_number="17")
    number_correct(submission=left_out, user=user, true_number="71")
    submission_set_training_use(submission=left_out, user=staff, use=False)
    NumberFactory(user=user, predicted_number="99")  # uncorrected: its digits are not data
    gone = NumberFactory(user=user, predicted_number="55")
    number_correct(submission=gone, user=user, true_number="56")
    gone.delete()

    corrections, _ = execution.training_corrections()

    assert corrections.labels.tolist() == [8, 4, 2]
    assert corrections.keys == [
        training_correction_key(digit.pk),
        training_digit_sample_key(submission_id=kept.pk, position=0),
        training_digit_sample_key(submission_id=kept.pk, position=1),
    ]
    assert training_correction_keys() == corrections.keys


def test_an_unreadable_digit_input_is_skipped_and_said(user):
    number = NumberFactory(user=user, predicted_number="42")
    number_correct(submission=number, user=user, true_number="42")
    first = number.digit_samples.first()
    first.input_image.storage.delete(first.input_image.name)

    corrections, skipped = execution.training_corrections()

    assert corrections.labels.tolist() == [2]
    assert skipped == [f"digit 0 of number {number.pk}: input image unreadable, skipped"]


def test_the_stable_split_covers_numbers_digits(user, shipped_version):
    """Corrected numbers alone can make a retraining: their digits are split by their own stable keys."""
    assert "no corrections" in training_run_problem()
    made = 0
    while made < 3 or len({split_key_is_holdout(key) for key in training_correction_keys()}) < 2:
        number = NumberFactory(user=user, predicted_number="4271")
        number_correct(submission=number, user=user, true_number="4277")
        made += 1
    assert training_run_problem() is None
    keys = training_correction_keys()
    assert len(keys) == len(set(keys)) == 4 * made  # one key per digit, never shared
    assert keys == training_correction_keys()  # stable


def test_a_run_fine_tunes_on_them(staff, user, shipped_version, fake_ml):  # noqa: F811 - the fixture
    made = 0
    while made < 3 or len({split_key_is_holdout(key) for key in training_correction_keys()}) < 2:
        number = NumberFactory(user=user, predicted_number="12")
        number_correct(submission=number, user=user, true_number="13")
        made += 1

    run = execution.training_run_execute(run_id=run_queued(staff).pk)

    [call] = fake_ml.calls
    assert call["corrections"].labels.tolist() == [1, 3] * made
    assert call["corrections"].keys == training_correction_keys()
    assert [o["key"] for o in run.correction_outcomes] == training_correction_keys()  # what it did with each
