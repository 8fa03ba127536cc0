"""Root URL configuration; the site's pages and API arrive with the web issue."""

from django.contrib import admin
from django.urls import path

urlpatterns = [
    path("admin/", admin.site.urls),
]
