"""The Celery app: configured from Django settings (CELERY_* names), tasks found in installed apps."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digitvision_site.settings")

app = Celery("digitvision_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery beat (`make run` starts it with the worker): a run whose worker died, or that no worker took, is
# failed within a minute, so the pages and the API only read runs and never write on a GET.
STALE_CHECK_SECONDS = 60.0
app.conf.beat_schedule = {
    "fail-stale-training-runs": {"task": "recognizer.fail_stale_training_runs", "schedule": STALE_CHECK_SECONDS},
}


def _ensure_broker_folder() -> None:
    # The filesystem transport fails on a missing folder; create it for the embedded default.
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        Path(settings.CELERY_BROKER_FOLDER, "control").mkdir(parents=True, exist_ok=True)


app.on_after_configure.connect(lambda sender, **kwargs: _ensure_broker_folder(), weak=False)
