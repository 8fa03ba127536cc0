"""The admin pages render, show images through the access-checked views, and delete through the services."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from recognizer.models import ModelVersion, Submission
from recognizer.tests.factories import ModelVersionFactory, SubmissionFactory, TrainingRunFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


def test_submission_changelist_shows_thumbnails_and_filters(admin_client):
    submission = SubmissionFactory(user__username="alice", predicted_digit=6)

    response = admin_client.get("/admin/recognizer/submission/", {"corrected": "no", "q": "alice"})

    assert response.status_code == 200
    # Through the access-checked view: production serves no media folder.
    assert f'src="{reverse("recognizer:submission-preview", args=[submission.pk])}"'.encode() in response.content
    assert admin_client.get(reverse("recognizer:submission-preview", args=[submission.pk])).status_code == 200


def test_submission_changelist_shows_the_answer_and_filters_on_it(admin_client):
    refused = SubmissionFactory(refused=True, refusal_reason="looks like several digits")
    to_not_a_digit = SubmissionFactory(predicted_digit=6, corrected_not_a_digit=True)
    digit = SubmissionFactory(predicted_digit=2, corrected_digit=2)

    page = admin_client.get("/admin/recognizer/submission/").content.decode()

    assert "not a digit (looks like several digits)" in page
    assert "→ not a digit" in page and "confirmed 2" in page

    def listed(query: dict) -> set[int]:
        response = admin_client.get("/admin/recognizer/submission/", query)
        assert response.status_code == 200
        return {s.pk for s in response.context["cl"].result_list}

    assert listed({"not_a_digit__exact": "1"}) == {refused.pk}
    assert listed({"true_answer": "not_a_digit"}) == {refused.pk, to_not_a_digit.pk}
    assert listed({"corrected": "yes"}) == {to_not_a_digit.pk, digit.pk}
    assert listed({"corrected": "no"}) == {refused.pk}


def test_submission_change_page_is_read_only(admin_client):
    submission = SubmissionFactory()

    response = admin_client.get(f"/admin/recognizer/submission/{submission.pk}/change/")

    assert response.status_code == 200
    for view in ("submission-image", "submission-input"):
        assert reverse(f"recognizer:{view}", args=[submission.pk]).encode() in response.content
    assert b"/media/" not in response.content


def test_model_version_changelist(admin_client):
    version = SubmissionFactory().model_version

    response = admin_client.get("/admin/recognizer/modelversion/")

    assert response.status_code == 200 and version.name.encode() in response.content


# --------------------------------------------------------------------------- retraining and rollback actions


def _action(admin_client, action: str, *versions, follow: bool = True):
    return admin_client.post(
        "/admin/recognizer/modelversion/",
        {"action": action, "_selected_action": [v.pk for v in versions]},
        follow=follow,
    )


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_retrain_action_queues_one_run_then_reports_the_one_in_flight(
    admin_client, shipped_version, trainable_corrections
):
    from recognizer.models import TrainingRun

    response = _action(admin_client, "retrain_now", shipped_version)

    run = TrainingRun.objects.get()
    assert (run.state, run.requested_by.username) == ("queued", "admin")
    [(level, text)] = _messages(response)
    assert level == "success" and f"#{run.pk}" in text

    again = _action(admin_client, "retrain_now", shipped_version)

    assert TrainingRun.objects.count() == 1
    [(level, text)] = _messages(again)
    assert level == "error" and "already" in text


def test_retrain_action_refuses_a_retraining_that_cannot_work(admin_client, shipped_version):
    from recognizer.models import TrainingRun

    [(level, text)] = _messages(_action(admin_client, "retrain_now", shipped_version))
    assert level == "error" and "retraining cannot work: no corrections" in text
    assert not TrainingRun.objects.exists()


def test_rollback_action_makes_the_version_active_and_records_it(admin_client, untrained_checkpoint):
    from django.conf import settings

    from recognizer.models import ModelVersionEvent
    from recognizer.services import model_version_register

    old = model_version_register(path=untrained_checkpoint, name="old")
    current = model_version_register(path=settings.DIGITVISION_CHECKPOINT, activate=True)

    response = _action(admin_client, "make_active", old)

    old.refresh_from_db()
    assert old.is_active
    event = ModelVersionEvent.objects.get(action="rolled_back")
    assert (event.version, event.previous, event.reason) == (old, current, "rolled back from the admin")
    assert _messages(response) == [("success", "old is now the active model.")]


def test_rollback_action_needs_exactly_one_version(admin_client, shipped_version):
    from recognizer.tests.factories import ModelVersionFactory

    response = _action(admin_client, "make_active", shipped_version, ModelVersionFactory())

    [(level, text)] = _messages(response)
    assert level == "error" and "exactly one" in text


def test_rollback_action_with_missing_weights_changes_nothing(admin_client, shipped_version):
    from recognizer.models import ModelVersionEvent
    from recognizer.tests.factories import ModelVersionFactory

    broken = ModelVersionFactory(name="digitnet-gone")

    response = _action(admin_client, "make_active", broken)

    shipped_version.refresh_from_db()
    assert shipped_version.is_active
    assert not ModelVersionEvent.objects.filter(action="rolled_back").exists()
    [(level, text)] = _messages(response)
    assert level == "error" and text.startswith("digitnet-gone was not made active")


def test_training_runs_and_events_are_read_only(admin_client, shipped_version):
    from recognizer.models import ModelVersionEvent

    run = TrainingRunFactory(state="rejected", in_flight=None, reason="holdout accuracy fell", progress=100)
    event = ModelVersionEvent.objects.get()

    changelist = admin_client.get("/admin/recognizer/trainingrun/", {"state__exact": "rejected"})
    assert changelist.status_code == 200
    assert b"holdout accuracy fell" in changelist.content and b"100%" in changelist.content
    assert admin_client.get(f"/admin/recognizer/trainingrun/{run.pk}/change/").status_code == 200  # view only
    assert admin_client.get("/admin/recognizer/trainingrun/add/").status_code == 403
    change = admin_client.post(f"/admin/recognizer/trainingrun/{run.pk}/change/", {"state": "promoted"})
    assert change.status_code == 403
    assert admin_client.get(f"/admin/recognizer/trainingrun/{run.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/recognizer/modelversionevent/").status_code == 200
    assert admin_client.get("/admin/recognizer/modelversionevent/add/").status_code == 403
    assert admin_client.get(f"/admin/recognizer/modelversionevent/{event.pk}/delete/").status_code == 403
    run.refresh_from_db()
    assert run.state == "rejected"


def test_model_versions_cannot_be_deleted_not_even_by_a_superuser(admin_client, shipped_version):
    unused = ModelVersionFactory(is_active=False)

    for version in (shipped_version, unused):
        assert admin_client.get(f"/admin/recognizer/modelversion/{version.pk}/delete/").status_code == 403
    bulk = admin_client.post(
        "/admin/recognizer/modelversion/",
        {"action": "delete_selected", "_selected_action": [shipped_version.pk, unused.pk], "post": "yes"},
    )
    changelist = admin_client.get("/admin/recognizer/modelversion/")

    assert bulk.status_code in (200, 302) and b"delete_selected" not in changelist.content
    assert ModelVersion.objects.filter(pk__in=[shipped_version.pk, unused.pk]).count() == 2
    assert ModelVersion.objects.get(is_active=True) == shipped_version


def _files_exist(media_root, submission) -> list[bool]:
    return [(media_root / f.name).exists() for f in (submission.image, submission.input_image)]


def test_deleting_submissions_in_the_admin_removes_their_images(
    admin_client, media_root, django_capture_on_commit_callbacks
):
    one, two = SubmissionFactory.create_batch(2)
    kept = SubmissionFactory()

    with django_capture_on_commit_callbacks(execute=True):
        single = admin_client.post(f"/admin/recognizer/submission/{one.pk}/delete/", {"post": "yes"})
        bulk = admin_client.post(
            "/admin/recognizer/submission/", {"action": "delete_selected", "_selected_action": [two.pk], "post": "yes"}
        )

    assert single.status_code == bulk.status_code == 302
    assert list(Submission.objects.values_list("pk", flat=True)) == [kept.pk]
    assert _files_exist(media_root, one) == _files_exist(media_root, two) == [False, False]
    assert _files_exist(media_root, kept) == [True, True]


def test_deleting_a_person_in_the_admin_removes_their_images(
    admin_client, media_root, django_capture_on_commit_callbacks
):
    submission = SubmissionFactory()
    person = submission.user

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/auth/user/{person.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not get_user_model().objects.filter(pk=person.pk).exists()
    assert not Submission.objects.exists()
    assert _files_exist(media_root, submission) == [False, False]
