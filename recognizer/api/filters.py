"""Query parameters of GET /api/v1/predictions/, /api/v1/numbers/ and /api/v1/corrections/ (django-filter)."""

from datetime import timedelta

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from recognizer.models import ANSWERS, DIGIT_CHOICES, MAX_NUMBER_DIGITS, NUMBER_ANSWERS, REVIEW_STATES, Submission
from recognizer.selectors import LEAST_SURE_FIRST, SUREST_FIRST


class _RealisticDateTimeField(IsoDateTimeField):
    # Python parses offsets up to +-23:59; PostgreSQL refuses those past +-15:59 (and no place is past +-14:00).
    def to_python(self, value):
        parsed = super().to_python(value)
        offset = parsed.utcoffset() if parsed is not None else None
        if offset is not None and abs(offset) > timedelta(hours=14):
            raise forms.ValidationError("The UTC offset must be within +-14:00.", code="invalid")
        return parsed


class _DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _RealisticDateTimeField


class _OneValueEach(forms.Form):
    # django-filter skips a parameter given with no value and reads only the last of a repeated one; an API client
    # that sends either more likely made a mistake.
    def clean(self) -> dict:
        for name in self.fields:
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data.get(name)]
            if len(values) > 1:
                self.add_error(name, "Give one value: the parameter is not a list.")
            elif self.data.get(name, None) == "":
                self.add_error(name, "Give a value, or leave the parameter out.")
        return super().clean()


# One order at a time (a string, not a list): its name in generated clients, what it means, the fields it orders
# by (ties go newest first, as everywhere; "not a digit", which has no confidence, is the least sure).
_ORDERINGS = {
    "-created_at": ("NEWEST_FIRST", "newest first (the default)", ("-created_at", "-id")),
    "created_at": ("OLDEST_FIRST", "oldest first", ("created_at", "id")),
    "confidence": ("LEAST_SURE_FIRST", "least sure first, not a digit before any digit", LEAST_SURE_FIRST),
    "-confidence": ("SUREST_FIRST", "surest first, not a digit last", SUREST_FIRST),
}
_ORDERING_VALUES = sorted(_ORDERINGS)  # drf-spectacular sorts a parameter's enum; the names follow that order
_ORDERING_SCHEMA = {
    "type": "string",
    "enum": _ORDERING_VALUES,
    "x-enum-varnames": [_ORDERINGS[value][0] for value in _ORDERING_VALUES],
    "description": "One order, a single value (several are refused):\n\n"
    + "\n".join(f"* `{value}` - {label}" for value, (_, label, _) in _ORDERINGS.items()),
}


def _answer_filter(method: str, label: str) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(choices=list(ANSWERS.items()), method=method, label=label)


def _true_or_false(method: str, label: str) -> django_filters.ChoiceFilter:
    # A choice, not a BooleanFilter: that one silently ignores values like "maybe" instead of refusing them.
    return django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method=method, label=label)


class _AnswerFilterMethods:
    """The methods of the `answer` (what the model said) and `true_answer` filters."""

    def filter_answer(self, queryset, name: str, value: str):
        return queryset.with_answer(value)

    def filter_true_answer(self, queryset, name: str, value: str):
        return queryset.with_true_answer(value)


class _OwnListFilter(django_filters.FilterSet):
    """What a person's own lists (predictions, numbers) filter by alike: when, and corrected or not."""

    created_after = _DateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = _DateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Submission
        fields: list[str] = []
        form = _OneValueEach

    def filter_corrected(self, queryset, name: str, value: str):
        return queryset.corrected(value == "true")


class PredictionFilter(_AnswerFilterMethods, _OwnListFilter):
    digit = django_filters.TypedChoiceFilter(
        choices=DIGIT_CHOICES,
        coerce=int,
        method="filter_true_digit",
        label="True digit: the correction if any, else the prediction (a true answer of not a digit has none).",
    )
    answer = _answer_filter("filter_answer", "What the model said: `digit`, or `not_a_digit`.")
    true_answer = _answer_filter(
        "filter_true_answer", "The true answer, `digit` or `not_a_digit`: the correction if any, else the model's."
    )
    corrected = _true_or_false(
        "filter_corrected", "Only corrected (true: to a digit or to not a digit) or only uncorrected (false)."
    )
    # "Not a digit" has no confidence, so either bound leaves it out.
    min_confidence = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="gte", label="Digits at least this sure (leaves out not a digit)."
    )
    max_confidence = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="lte", label="Digits at most this sure (leaves out not a digit)."
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(value, label) for value, (_, label, _) in _ORDERINGS.items()], method="filter_ordering"
    )

    def filter_true_digit(self, queryset, name: str, value: int):
        return queryset.with_true_digit(value)

    @extend_schema_field(_ORDERING_SCHEMA)
    def filter_ordering(self, queryset, name: str, value: str):
        return queryset.order_by(*_ORDERINGS[value][2])


# The same orders for numbers, where "not a number" is the one without a confidence.
_NUMBER_ORDERINGS = {
    value: (name, label.replace("not a digit", "not a number").replace("any digit", "any number"), fields)
    for value, (name, label, fields) in _ORDERINGS.items()
}
_NUMBER_ORDERING_SCHEMA = {
    **_ORDERING_SCHEMA,
    "description": "One order, a single value (several are refused):\n\n"
    + "\n".join(f"* `{value}` - {label}" for value, (_, label, _) in _NUMBER_ORDERINGS.items()),
}


class NumberFilter(_OwnListFilter):
    number = django_filters.CharFilter(
        method="filter_true_number",
        max_length=MAX_NUMBER_DIGITS,
        label="True number, exactly (leading zeros count): the correction if any, else the number read.",
    )
    answer = django_filters.ChoiceFilter(
        choices=list(NUMBER_ANSWERS.items()),
        method="filter_answer",
        label="What was read: `number`, or `not_a_number`.",
    )
    corrected = _true_or_false("filter_corrected", "Only corrected numbers (true) or only uncorrected ones (false).")
    segmentation_wrong = _true_or_false(
        "filter_segmentation_wrong",
        "Only numbers corrected with another count of digits than were found (true), or the others (false).",
    )
    source = django_filters.ChoiceFilter(choices=Submission.Source.choices, label="Where it came from.")
    model_version = django_filters.CharFilter(
        field_name="model_version__name", label="The name of the model version that read it."
    )
    min_confidence = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="gte", label="Numbers at least this sure (leaves out not a number)."
    )
    max_confidence = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="lte", label="Numbers at most this sure (leaves out not a number)."
    )
    ordering = django_filters.ChoiceFilter(
        choices=[(value, label) for value, (_, label, _) in _NUMBER_ORDERINGS.items()], method="filter_ordering"
    )

    def filter_true_number(self, queryset, name: str, value: str):
        return queryset.with_true_number(value)

    def filter_answer(self, queryset, name: str, value: str):
        return queryset.with_number_answer(value)

    def filter_segmentation_wrong(self, queryset, name: str, value: str):
        return queryset.filter(segmentation_wrong=value == "true")

    @extend_schema_field(_NUMBER_ORDERING_SCHEMA)
    def filter_ordering(self, queryset, name: str, value: str):
        return queryset.order_by(*_NUMBER_ORDERINGS[value][2])


class CorrectionFilter(_AnswerFilterMethods, django_filters.FilterSet):
    digit = django_filters.TypedChoiceFilter(
        choices=DIGIT_CHOICES, coerce=int, field_name="corrected_digit", label="The corrected digit."
    )
    state = django_filters.ChoiceFilter(
        choices=list(REVIEW_STATES.items()),
        method="filter_state",
        label="Where staff's curation stands (`changed`: another digit, or not a digit either way).",
    )
    answer = _answer_filter("filter_answer", "What the model said: `digit`, or `not_a_digit`.")
    true_answer = _answer_filter("filter_true_answer", "What the correction says: `digit`, or `not_a_digit`.")

    class Meta:
        model = Submission
        fields = ["digit", "state", "answer", "true_answer"]
        form = _OneValueEach

    def filter_state(self, queryset, name: str, value: str):
        return queryset.in_review_state(value)
