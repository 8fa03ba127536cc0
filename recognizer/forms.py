"""Forms of the web pages: sign-up, account deletion, upload, corrections of digits and numbers, and the history
and curation filters."""

from django import forms
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm, UserCreationForm

from recognizer.models import ANSWERS, MAX_NUMBER_DIGITS, NUMBER_ANSWERS, REVIEW_STATES

ACCEPTED_IMAGE_TYPES = "image/png,image/jpeg,image/heic,image/heif,image/avif,image/webp,image/gif,image/bmp,image/tiff"


class PasswordRulesUnderThePassword:
    """Django puts "too short", "too common" ... under the confirmation field; they are about the password, so
    they show under the password field (a mismatch stays under the confirmation)."""

    password_field = "password1"

    def validate_password_for_user(self, user, password_field_name: str | None = None, **kwargs) -> None:
        super().validate_password_for_user(user, password_field_name=self.password_field, **kwargs)


class SignUpForm(PasswordRulesUnderThePassword, UserCreationForm):
    email = forms.EmailField(required=False, help_text="Optional; used only to reset a forgotten password.")

    class Meta(UserCreationForm.Meta):
        fields = ("username", "email")


class NewPasswordForm(PasswordRulesUnderThePassword, SetPasswordForm):
    """Setting a new password from a reset link."""

    password_field = "new_password1"


class ChangePasswordForm(PasswordRulesUnderThePassword, PasswordChangeForm):
    password_field = "new_password1"


class AccountDeleteForm(forms.Form):
    """The password again: deleting an account cannot be undone, so an open session alone is not enough."""

    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.", code="password_incorrect")
        return password


class UploadForm(forms.Form):
    """The file field only: its size, format and pixels are checked by the service (and its size, before it is
    read, by recognizer.request_images)."""

    image = forms.FileField(
        label="Image",
        widget=forms.ClearableFileInput(
            attrs={"accept": ACCEPTED_IMAGE_TYPES, "class": "upload-input", "data-testid": "upload-input"}
        ),
    )


class CorrectionForm(forms.Form):
    digit = forms.TypedChoiceField(choices=[(d, str(d)) for d in range(10)], coerce=int)


class TrueAnswerForm(forms.Form):
    """A person's correction without JavaScript: the button pressed sends a digit, or "not a digit"."""

    digit = forms.TypedChoiceField(
        choices=[(d, str(d)) for d in range(10)], coerce=int, required=False, empty_value=None
    )
    not_a_digit = forms.BooleanField(required=False)

    def clean(self) -> dict:
        data = super().clean()
        if (data.get("digit") is None) == (not data.get("not_a_digit")):
            raise forms.ValidationError("Give one answer: a digit, or not a digit.", code="one_answer")
        return data

    def answer(self) -> dict:
        """Keyword arguments for submission_correct."""
        if self.cleaned_data["not_a_digit"]:
            return {"not_a_digit": True}
        return {"digit": self.cleaned_data["digit"]}


class NumberCorrectionForm(forms.Form):
    """A number's correction without JavaScript: ✓ Correct (``confirm``), the number typed (``true_number``), or
    one digit fixed (``position`` and the ``true_digit`` button pressed). The service checks the number."""

    confirm = forms.BooleanField(required=False)
    true_number = forms.CharField(required=False, max_length=MAX_NUMBER_DIGITS * 4)
    position = forms.IntegerField(required=False, min_value=0, max_value=MAX_NUMBER_DIGITS - 1)
    true_digit = forms.TypedChoiceField(
        choices=[(d, str(d)) for d in range(10)], coerce=int, required=False, empty_value=None
    )

    def clean(self) -> dict:
        data = super().clean()
        given = [data.get("confirm"), bool(data.get("true_number")), data.get("true_digit") is not None]
        if sum(given) != 1 or (data.get("true_digit") is not None and data.get("position") is None):
            raise forms.ValidationError("Give one correction: the number, or one digit of it.", code="one_answer")
        return data

    def answer(self, number_read: str) -> dict:
        """Keyword arguments for number_correct (``true_number``) or number_digit_correct (``position``,
        ``digit``); confirming sends ``number_read``, what was read."""
        data = self.cleaned_data
        if data["true_digit"] is not None:
            return {"position": data["position"], "digit": data["true_digit"]}
        return {"true_number": number_read if data["confirm"] else data["true_number"]}


KINDS = {"digit": "Digits", "number": "Numbers"}


class HistoryFilterForm(forms.Form):
    """History's filters, over digits and numbers alike. A digit filter on a number: its true number has that
    digit. What the model said and the true answer name a kind too: "A number" shows numbers only."""

    kind = forms.ChoiceField(label="Show", choices=[("", "Digits and numbers"), *KINDS.items()], required=False)
    digit = forms.TypedChoiceField(
        choices=[("", "Any digit")] + [(d, str(d)) for d in range(10)], coerce=int, required=False, empty_value=None
    )
    corrected = forms.ChoiceField(choices=[("", "All"), ("yes", "Corrected"), ("no", "Not corrected")], required=False)
    # What the model said, and the true answer (the correction if any, else the model's): a digit or not, a
    # number or not.
    answer = forms.ChoiceField(
        label="Model said", choices=[("", "Anything"), *ANSWERS.items(), *NUMBER_ANSWERS.items()], required=False
    )
    true_answer = forms.ChoiceField(
        label="True answer", choices=[("", "Anything"), *ANSWERS.items(), *NUMBER_ANSWERS.items()], required=False
    )
    order = forms.ChoiceField(
        choices=[("newest", "Newest first"), ("lowest_confidence", "Lowest confidence first")], required=False
    )

    def filters(self) -> dict:
        """Keyword arguments for the history's list; invalid values are ignored rather than failing."""
        self.is_valid()  # cleaned_data keeps the fields that are valid
        data = self.cleaned_data
        corrected = {"yes": True, "no": False}.get(data.get("corrected") or "")
        return {
            "kind": data.get("kind") or None,
            "digit": data.get("digit"),
            "corrected": corrected,
            "answer": data.get("answer") or None,
            "true_answer": data.get("true_answer") or None,
            "order": data.get("order") or "newest",
        }

    def is_filtered(self) -> bool:
        """Whether the filters leave some submissions out (an order alone does not)."""
        return any(value is not None for name, value in self.filters().items() if name != "order")


class CorrectionReviewFilterForm(forms.Form):
    """Staff's filters over everyone's corrections."""

    digit = forms.TypedChoiceField(
        label="Corrected to",
        choices=[("", "Any digit")] + [(d, str(d)) for d in range(10)],
        coerce=int,
        required=False,
        empty_value=None,
    )
    state = forms.ChoiceField(choices=[("", "All"), *REVIEW_STATES.items()], required=False)
    # Both kinds of change: model said a digit, correction says not a digit, and the other way round.
    answer = forms.ChoiceField(label="Model said", choices=[("", "Anything"), *ANSWERS.items()], required=False)
    true_answer = forms.ChoiceField(label="Correction", choices=[("", "Anything"), *ANSWERS.items()], required=False)

    def filters(self) -> dict:
        """Keyword arguments for submission_corrections_for_review; invalid values are ignored."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "digit": data.get("digit"),
            "state": data.get("state") or None,
            "answer": data.get("answer") or None,
            "true_answer": data.get("true_answer") or None,
        }
