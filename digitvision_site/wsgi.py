"""WSGI entry point (gunicorn digitvision_site.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitvision_site.settings")

application = get_wsgi_application()
