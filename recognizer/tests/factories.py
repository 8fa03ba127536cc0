"""factory_boy factories for the recognizer's test data."""

import hashlib
from collections.abc import Callable

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from recognizer.models import DigitSample, ModelVersion, Submission, TrainingRun


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class ModelVersionFactory(DjangoModelFactory):
    """A version row whose weights file does not exist; register a real file through the service instead."""

    class Meta:
        model = ModelVersion

    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"weights {n}".encode()).hexdigest())
    name = factory.LazyAttribute(lambda o: f"digitnet-{o.sha256[:8]}")
    weights_path = factory.LazyAttribute(lambda o: f"models/{o.name}.pt")
    metrics = factory.LazyFunction(dict)
    is_active = False


def _probabilities(digit: int, confidence: float) -> list[float]:
    rest = (1.0 - confidence) / 9
    return [confidence if d == digit else rest for d in range(10)]


class SubmissionFactory(DjangoModelFactory):
    class Meta:
        model = Submission

    user = factory.SubFactory(UserFactory)
    image = factory.django.ImageField(filename="original.png", width=64, height=64, color="white")
    input_image = factory.django.ImageField(filename="input.png", width=28, height=28, color="black")
    source = Submission.Source.CANVAS
    predicted_digit = factory.Sequence(lambda n: n % 10)
    confidence = 0.9
    probabilities = factory.LazyAttribute(lambda o: _probabilities(o.predicted_digit, o.confidence))
    model_version = factory.SubFactory(ModelVersionFactory)

    class Params:
        # SubmissionFactory(refused=True): the model said "not a digit"; its closest digit is 4, at 31%.
        refused = factory.Trait(
            predicted_digit=None,
            confidence=None,
            not_a_digit=True,
            refusal_reason="not a digit",
            probabilities=factory.LazyFunction(lambda: _probabilities(4, 0.31)),
        )


class NumberFactory(DjangoModelFactory):
    """A number (kind "number") with one digit sample per digit read; ``digits="12"`` gives other samples (say,
    the refused parts of a number not read)."""

    class Meta:
        model = Submission
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    kind = Submission.Kind.NUMBER
    image = factory.django.ImageField(filename="original.png", width=160, height=64, color="white")
    source = Submission.Source.CANVAS
    predicted_number = "42"
    confidence = 0.9
    probabilities = factory.LazyFunction(list)
    model_version = factory.SubFactory(ModelVersionFactory)

    class Params:
        # NumberFactory(refused=True): the ink held no number.
        refused = factory.Trait(
            predicted_number="",
            confidence=None,
            not_a_number=True,
            refusal_reason="not a number: no digit in the ink",
        )

    @factory.post_generation
    def digits(obj, create, extracted, **kwargs):
        if not create:
            return
        digits = obj.predicted_number if extracted is None else extracted
        for position, digit in enumerate(digits):
            DigitSampleFactory(submission=obj, position=position, predicted_digit=int(digit), refused=obj.not_a_number)


class DigitSampleFactory(DjangoModelFactory):
    class Meta:
        model = DigitSample

    submission = factory.SubFactory(NumberFactory, digits="")
    position = 0
    box_x = factory.LazyAttribute(lambda o: 8 + 48 * o.position)
    box_y = 8
    box_width = 40
    box_height = 48
    input_image = factory.django.ImageField(filename="input.png", width=28, height=28, color="black")
    predicted_digit = 4
    confidence = 0.95
    probabilities = factory.LazyAttribute(lambda o: _probabilities(o.predicted_digit, o.confidence))


class TrainingRunFactory(DjangoModelFactory):
    """A training run row; a finished state (anything but queued/running/evaluating) is no longer in flight."""

    class Meta:
        model = TrainingRun

    requested_by = factory.SubFactory(UserFactory, is_staff=True)
    state = TrainingRun.State.QUEUED
    in_flight = factory.LazyAttribute(lambda o: True if o.state in TrainingRun.IN_PROGRESS else None)


def corrections_for_retraining(make: Callable[[int], Submission], *, at_least: int) -> int:
    """Call ``make(i)`` (it stores the i-th corrected submission) ``at_least`` times, then more until the stable
    split holds some out and leaves some to train on, as a retraining requires; returns how many were made."""
    from ml.retrain.split import split_problem
    from recognizer.services.training_runs import training_correction_keys

    made = 0
    while made < at_least or split_problem(training_correction_keys()):
        make(made)
        made += 1
    return made
