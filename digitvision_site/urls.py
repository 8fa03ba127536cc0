"""Root URL configuration: the recognizer's pages, accounts on Django auth, and the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from recognizer.api import errors as api_errors
from recognizer.forms import ChangePasswordForm, NewPasswordForm
from recognizer.views import accounts

# Media is never served publicly, not even in DEBUG: submission images go through access-checked views
# (recognizer:submission-image / submission-input) so only their owner, or staff, can fetch them.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("recognizer.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, so the docs need no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Any other /api/ URL: the API's JSON 404, also while DEBUG shows HTML error pages elsewhere.
    re_path(r"^api/", api_errors.not_found_route),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/delete/", accounts.account_delete_view, name="account-delete"),
    # Django's own views, with forms that show the password rules under the password field.
    path(
        "accounts/password_change/",
        auth_views.PasswordChangeView.as_view(form_class=ChangePasswordForm),
        name="password_change",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(form_class=NewPasswordForm),
        name="password_reset_confirm",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("recognizer.urls")),
]

handler400 = "recognizer.api.errors.bad_request"
handler404 = "recognizer.api.errors.not_found"
handler500 = "recognizer.api.errors.server_error"
