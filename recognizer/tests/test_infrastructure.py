"""The services the settings point at are the ones really in use (CI runs this on PostgreSQL + Redis)."""

import os

import pytest
from django.conf import settings
from django.db import connection

from digitvision_site.celery import app


@pytest.mark.django_db
def test_database_is_the_configured_one():
    url = os.environ.get("DATABASE_URL", "sqlite:")
    expected = "postgresql" if url.startswith(("postgres", "pgsql")) else "sqlite"
    assert connection.vendor == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_celery_reads_its_settings_from_django():
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_acks_late is True


def test_broker_accepts_connections():
    """A message round trip through the configured broker (Redis in CI, the filesystem transport locally)."""
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=3)
        queue = conn.SimpleQueue("digitvision-infrastructure-test")
        try:
            queue.put({"ping": 1})
            assert queue.get(timeout=5).payload == {"ping": 1}
        finally:
            queue.clear()
            queue.close()
