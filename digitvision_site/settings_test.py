"""Settings for the test suite: the local development defaults, made fast and independent of a local .env."""

import os

# Tests run as local development does, whatever a developer's .env says; tests of the production settings
# start their own processes with DEBUG off (recognizer/tests/test_settings.py).
os.environ.setdefault("DEBUG", "true")

from digitvision_site.settings import *  # noqa: E402, F403
from digitvision_site.settings import BASE_DIR, DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so a Celery worker started by the integration tests sees the same database; one per
    # test process, so two test runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}

# Hashing passwords the production way costs ~0.3 s per account; the suite creates hundreds.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
