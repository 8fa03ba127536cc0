"""Root URL configuration: the recognizer's pages, accounts on Django auth, and the admin."""

from django.contrib import admin
from django.urls import include, path

from recognizer import views as recognizer_views

# Media is never served publicly, not even in DEBUG: submission images go through access-checked views
# (recognizer:submission-image / submission-input) so only their owner, or staff, can fetch them.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/signup/", recognizer_views.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("recognizer.urls")),
]
