"""Receivers: a new password or a sign-in lockout revokes the person's API tokens (connected in apps.ready)."""

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models.signals import post_save

from recognizer.services.accounts import account_tokens_revoke


def revoke_tokens_on_new_password(sender, instance: AbstractBaseUser, created: bool, raw: bool, **kwargs) -> None:
    # One receiver on the user's save, not each view's form_valid, so every way a password is set is covered:
    # the change and reset pages, the admin, `manage.py changepassword`, a shell. set_password() keeps the new
    # raw password in `_password` until the save (Django itself calls the validators' password_changed() from
    # it); a hash merely upgraded at sign-in (a new hasher, more iterations) clears it first, so upgrading
    # Django signs nobody out of the API.
    if created or raw or getattr(instance, "_password", None) is None:
        return
    account_tokens_revoke(user=instance)


def revoke_tokens_on_lockout(sender, request, username: str | None, **kwargs) -> None:
    # Someone is guessing this person's password: a token got with it, or leaked, stops working too.
    if username:
        account_tokens_revoke(username=username)


def connect() -> None:
    post_save.connect(
        revoke_tokens_on_new_password, sender=get_user_model(), dispatch_uid="recognizer.revoke_tokens_on_password"
    )
    user_locked_out.connect(revoke_tokens_on_lockout, dispatch_uid="recognizer.revoke_tokens_on_lockout")
