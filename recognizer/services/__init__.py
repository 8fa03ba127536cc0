"""Every write to the recognizer's data (HackSoftware Django-Styleguide services), one module per entity."""

from recognizer.services.accounts import account_token_get_or_create, account_tokens_revoke
from recognizer.services.model_versions import model_version_activate, model_version_register, model_version_rollback
from recognizer.services.numbers import number_correct, number_create, number_digit_correct
from recognizer.services.submissions import (
    account_delete,
    submission_correct,
    submission_create,
    submission_delete,
    submission_set_training_use,
)

__all__ = [
    "account_delete",
    "account_token_get_or_create",
    "account_tokens_revoke",
    "model_version_activate",
    "model_version_register",
    "model_version_rollback",
    "number_correct",
    "number_create",
    "number_digit_correct",
    "submission_correct",
    "submission_create",
    "submission_delete",
    "submission_set_training_use",
]
