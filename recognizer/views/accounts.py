"""Account pages beside Django's own: sign-up, and deleting an account with all it sent."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods

from recognizer.forms import AccountDeleteForm, SignUpForm
from recognizer.services import account_delete


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def account_delete_view(request: HttpRequest) -> HttpResponse:
    """Delete the signed-in person's account and all they sent, after they give their password again."""
    form = AccountDeleteForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        count = account_delete(user=request.user)
        logout(request)
        messages.success(request, f"Your account and its {count} submission{pluralize(count)} have been deleted.")
        return redirect("login")
    context = {"form": form, "submission_count": request.user.submissions.count()}
    return render(request, "registration/account_delete.html", context)
