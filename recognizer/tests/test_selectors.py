"""Reads: the active version and a person's own submissions, filtered and sorted."""

import pytest

from recognizer.exceptions import NoActiveModelVersionError
from recognizer.models import Submission
from recognizer.selectors import model_version_active, submission_get_for_user, submission_list_for_user
from recognizer.tests.factories import ModelVersionFactory, SubmissionFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_model_version_active():
    with pytest.raises(NoActiveModelVersionError):
        model_version_active()
    ModelVersionFactory()
    active = ModelVersionFactory(is_active=True)
    assert model_version_active() == active


@pytest.fixture
def history(user):
    """Three of the user's submissions (one corrected) and one of someone else's."""
    version = ModelVersionFactory()
    a = SubmissionFactory(user=user, model_version=version, predicted_digit=3, confidence=0.95)
    b = SubmissionFactory(user=user, model_version=version, predicted_digit=5, confidence=0.40, corrected_digit=3)
    c = SubmissionFactory(user=user, model_version=version, predicted_digit=7, confidence=0.70)
    other = SubmissionFactory(model_version=version, predicted_digit=3)
    return a, b, c, other


def test_list_is_the_users_own_newest_first(user, history):
    a, b, c, _ = history
    assert list(submission_list_for_user(user=user)) == [c, b, a]


def test_list_filters_on_the_true_digit(user, history):
    a, b, c, _ = history
    assert list(submission_list_for_user(user=user, digit=3)) == [b, a]
    assert list(submission_list_for_user(user=user, digit=5)) == []
    assert list(submission_list_for_user(user=user, digit=7)) == [c]


def test_list_filters_on_corrected_state(user, history):
    a, b, c, _ = history
    assert list(submission_list_for_user(user=user, corrected=True)) == [b]
    assert list(submission_list_for_user(user=user, corrected=False)) == [c, a]


def test_list_sorts_by_lowest_confidence(user, history):
    a, b, c, _ = history
    assert list(submission_list_for_user(user=user, order="lowest_confidence")) == [b, c, a]


def test_list_refuses_an_unknown_order(user):
    with pytest.raises(ValueError, match="unknown order"):
        submission_list_for_user(user=user, order="random")


def test_get_for_user_isolates_users(user, history):
    a, _, _, other = history
    assert submission_get_for_user(user=user, submission_id=a.pk) == a
    with pytest.raises(Submission.DoesNotExist):
        submission_get_for_user(user=user, submission_id=other.pk)
    with pytest.raises(Submission.DoesNotExist):
        submission_get_for_user(user=UserFactory(), submission_id=a.pk)


@pytest.fixture
def answers(user):
    """The user's submissions of every kind of answer, oldest first."""
    version = ModelVersionFactory()
    digit = SubmissionFactory(user=user, model_version=version, predicted_digit=3, confidence=0.95)
    refused = SubmissionFactory(user=user, model_version=version, refused=True)
    to_not_a_digit = SubmissionFactory(user=user, model_version=version, predicted_digit=1, corrected_not_a_digit=True)
    to_digit = SubmissionFactory(user=user, model_version=version, refused=True, corrected_digit=3)
    confirmed_refusal = SubmissionFactory(user=user, model_version=version, refused=True, corrected_not_a_digit=True)
    return digit, refused, to_not_a_digit, to_digit, confirmed_refusal


def test_list_filters_on_what_the_model_said_and_the_true_answer(user, answers):
    digit, refused, to_not_a_digit, to_digit, confirmed_refusal = answers
    assert list(submission_list_for_user(user=user, answer="not_a_digit")) == [confirmed_refusal, to_digit, refused]
    assert list(submission_list_for_user(user=user, answer="digit")) == [to_not_a_digit, digit]
    assert list(submission_list_for_user(user=user, true_answer="not_a_digit")) == [
        confirmed_refusal,
        to_not_a_digit,
        refused,
    ]
    assert list(submission_list_for_user(user=user, true_answer="digit")) == [to_digit, digit]
    assert list(submission_list_for_user(user=user, digit=3)) == [to_digit, digit]  # "not a digit" has no digit
    assert list(submission_list_for_user(user=user, digit=1)) == []  # corrected to "not a digit"
    assert list(submission_list_for_user(user=user, corrected=False)) == [refused, digit]
    both = submission_list_for_user(user=user, answer="not_a_digit", true_answer="digit")
    assert list(both) == [to_digit]


def test_lowest_confidence_first_puts_not_a_digit_first(user, answers):
    digit, refused, to_not_a_digit, to_digit, confirmed_refusal = answers
    order = list(submission_list_for_user(user=user, order="lowest_confidence"))
    assert order == [confirmed_refusal, to_digit, refused, to_not_a_digit, digit]  # no confidence, then 0.9, 0.95


def test_training_and_review_take_both_kinds_of_correction(user, answers):
    from recognizer.selectors import submission_corrections_for_review, submission_corrections_for_training

    digit, refused, to_not_a_digit, to_digit, confirmed_refusal = answers
    assert list(submission_corrections_for_training()) == [to_not_a_digit, to_digit, confirmed_refusal]
    assert set(submission_corrections_for_review()) == {to_not_a_digit, to_digit, confirmed_refusal}
    assert set(submission_corrections_for_review(state="changed")) == {to_not_a_digit, to_digit}
    assert set(submission_corrections_for_review(state="confirmed")) == {confirmed_refusal}
    assert set(submission_corrections_for_review(answer="digit", true_answer="not_a_digit")) == {to_not_a_digit}
    assert set(submission_corrections_for_review(answer="not_a_digit", true_answer="digit")) == {to_digit}
    assert set(submission_corrections_for_review(digit=3)) == {to_digit}
