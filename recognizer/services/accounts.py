"""Writes to a person's API tokens: issue one, revoke them all (sign-out, new password, lockout)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from rest_framework.authtoken.models import Token


def account_token_get_or_create(*, user: AbstractBaseUser) -> Token:
    """The person's API token, made on first request; the same key until it is revoked."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


def account_tokens_revoke(*, user: AbstractBaseUser | None = None, username: str | None = None) -> int:
    """Revoke the API tokens of ``user`` (or of the account named ``username``, which may not exist);
    returns how many went. A new password or a lockout ends every API session, as it ends the web's."""
    if user is None:
        users = get_user_model()._default_manager.filter(**{get_user_model().USERNAME_FIELD: username})
        deleted, _ = Token.objects.filter(user__in=users).delete()
    else:
        deleted, _ = Token.objects.filter(user=user).delete()
    return deleted
