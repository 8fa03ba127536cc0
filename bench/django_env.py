"""Django for the benchmarks that run against the site: the project's settings, as manage.py sets them."""

import os


def setup_django() -> None:
    """Configure Django from the environment (DATABASE_URL, MEDIA_ROOT, ...); a no-op once it is set up."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitvision_site.settings")
    import django

    django.setup()
