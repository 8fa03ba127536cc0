"""Training runs and rollbacks through the API: staff only, one run at a time, clear answers when things fail."""

import pytest
from rest_framework.test import APIClient

from recognizer.models import ModelVersion, ModelVersionEvent, TrainingRun
from recognizer.services import model_version_register
from recognizer.tests.factories import ModelVersionFactory, TrainingRunFactory
from recognizer.tests.test_api import assert_error

RUNS = "/api/v1/training-runs/"


@pytest.fixture
def user_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


class TestAccess:
    @pytest.mark.parametrize(
        "method, url",
        [
            ("get", RUNS),
            ("post", RUNS),
            ("get", f"{RUNS}1/"),
            ("post", f"{RUNS}1/cancel/"),
            ("post", "/api/v1/models/1/activate/"),
        ],
    )
    def test_non_staff_get_403_and_anonymous_401(self, user_client, api_client, method, url):
        assert_error(getattr(user_client, method)(url), 403, "permission_denied")
        assert_error(getattr(api_client, method)(url), 401, "not_authenticated")
        assert not TrainingRun.objects.exists()


class TestStart:
    def test_queues_a_run_and_answers_202(self, staff_api, staff, trainable_corrections):
        response = staff_api.post(RUNS)
        assert response.status_code == 202, response.content
        body = response.json()
        run = TrainingRun.objects.get()
        assert (body["id"], body["state"], body["is_in_progress"], body["requested_by"]) == (
            run.pk,
            "queued",
            True,
            "staff",
        )
        assert staff_api.get(f"{RUNS}{run.pk}/").json()["state"] == "queued"
        assert [r["id"] for r in staff_api.get(RUNS).json()["results"]] == [run.pk]

    def test_one_run_at_a_time(self, staff_api, trainable_corrections):
        first = staff_api.post(RUNS).json()
        error = assert_error(staff_api.post(RUNS), 409, "training_in_progress")
        assert error["details"] == {"run": first["id"]}
        assert f"#{first['id']}" in error["message"]
        assert TrainingRun.objects.count() == 1

    def test_cancel(self, staff_api, trainable_corrections):
        run = staff_api.post(RUNS).json()
        cancelled = staff_api.post(f"{RUNS}{run['id']}/cancel/")
        assert cancelled.status_code == 200
        assert (cancelled.json()["state"], cancelled.json()["is_in_progress"]) == ("cancelled", False)
        assert_error(staff_api.post(f"{RUNS}{run['id']}/cancel/"), 409, "not_in_progress")
        assert staff_api.post(RUNS).status_code == 202  # the next run can start

    def test_a_retraining_that_cannot_work_is_a_422_and_no_run(self, staff_api, shipped_version):
        error = assert_error(staff_api.post(RUNS), 422, "training_not_possible")
        assert "no corrections to learn from" in error["message"]
        assert not TrainingRun.objects.exists()

    def test_the_422_is_in_the_schema(self, staff_api):
        import json

        response = staff_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        schema = json.loads(response.content)
        responses = schema["paths"][RUNS]["post"]["responses"]
        assert "422" in responses and "training_not_possible" in responses["422"]["description"]


class TestReading:
    def test_listing_runs_writes_nothing(self, staff_api, staff, settings):
        """Stale runs are failed by the beat task; a GET only reads."""
        from datetime import timedelta

        from django.utils import timezone

        run = TrainingRunFactory(requested_by=staff)
        TrainingRun.objects.filter(pk=run.pk).update(
            created_at=timezone.now() - timedelta(seconds=settings.DIGITVISION_TRAINING_QUEUE_TIMEOUT + 1)
        )
        assert staff_api.get(RUNS).json()["results"][0]["state"] == "queued"
        assert TrainingRun.objects.get(pk=run.pk).state == "queued"

    def test_old_rows_come_out_in_the_current_shape(self, staff_api, staff):
        """Figures written before ml.report's schema (unversioned, oldest per-digit names) keep their keys."""
        run = TrainingRunFactory(
            requested_by=staff,
            candidate_metrics={"mnist_test_accuracy": 0.99, "holdout_total": 4},
            active_metrics={"mnist_test_accuracy": 0.98, "holdout_total": 4},
            per_class=[{"digit": 3, "active": 0.5, "candidate": 0.75, "change": 0.25}],
        )
        body = staff_api.get(f"{RUNS}{run.pk}/").json()
        assert body["candidate_metrics"]["mnist_test_accuracy"] == 0.99 and body["candidate_metrics"]["schema"] == 1
        assert body["active_metrics"]["holdout_total"] == 4 and body["active_metrics"]["val_accuracy"] is None
        row = body["per_class"][0]
        assert (row["digit"], row["test_recall_active"], row["test_recall_candidate"]) == (3, 0.5, 0.75)
        assert row["test_recall_change_pts"] == 25.0


@pytest.mark.django_db(transaction=True)
def test_broker_down_is_a_clear_503_and_no_run_stays_queued(trainable_corrections, staff_api, monkeypatch):
    """With no outer transaction the task is queued as the request commits, so its failure is seen at once."""
    from kombu.exceptions import OperationalError

    from recognizer.services import training_runs

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(training_runs.current_app, "send_task", broker_down)
    error = assert_error(staff_api.post(RUNS), 503, "queue_unavailable")
    assert "Connection refused" in error["message"]
    run = TrainingRun.objects.get(pk=error["details"]["run"])
    assert (run.state, run.in_flight) == ("failed", None)
    assert "cannot be reached" in run.reason


class TestRollback:
    def test_staff_make_an_earlier_version_active_again(self, staff_api, staff, shipped_version, untrained_checkpoint):
        newer = model_version_register(path=untrained_checkpoint, parent=shipped_version, activate=True)
        response = staff_api.post(
            f"/api/v1/models/{shipped_version.pk}/activate/", {"reason": "newer one misreads sevens"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["is_active"] is True
        assert ModelVersion.objects.get(is_active=True) == shipped_version
        event = ModelVersionEvent.objects.latest("id")
        assert (event.action, event.previous, event.by, event.reason) == (
            "rolled_back",
            newer,
            staff,
            "newer one misreads sevens",
        )

    def test_weights_that_fail_their_checksum_are_refused(self, staff_api, shipped_version):
        broken = ModelVersionFactory()  # its weights file does not exist
        error = assert_error(staff_api.post(f"/api/v1/models/{broken.pk}/activate/"), 409, "model_weights_invalid")
        assert "not found" in error["message"]
        assert ModelVersion.objects.get(is_active=True) == shipped_version
