"""The admin pages render, with a thumbnail of each submission's image."""

import pytest

from recognizer.tests.factories import SubmissionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


def test_submission_changelist_shows_thumbnails_and_filters(admin_client):
    submission = SubmissionFactory(user__username="alice", predicted_digit=6)

    response = admin_client.get("/admin/recognizer/submission/", {"corrected": "no", "q": "alice"})

    assert response.status_code == 200
    assert f'src="{submission.image.url}"'.encode() in response.content
    assert submission.image.url.startswith("/media/submissions/")


def test_submission_change_page_is_read_only(admin_client):
    submission = SubmissionFactory()

    response = admin_client.get(f"/admin/recognizer/submission/{submission.pk}/change/")

    assert response.status_code == 200
    assert submission.input_image.url.encode() in response.content


def test_model_version_changelist(admin_client):
    version = SubmissionFactory().model_version

    response = admin_client.get("/admin/recognizer/modelversion/")

    assert response.status_code == 200 and version.name.encode() in response.content
