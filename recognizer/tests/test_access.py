"""Who may reach what: every page and endpoint as anonymous, another person, the owner and staff; sign-in
protection (CSRF, session rotation, password rules, lockout after repeated failures); no public media."""

import pytest
from django.test import Client
from django.urls import reverse

from recognizer.tests.factories import SubmissionFactory, UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
def people(db):
    owner = UserFactory(username="owner")
    return {
        "anonymous": None,
        "other": UserFactory(username="other"),
        "owner": owner,
        "staff": UserFactory(username="staff", is_staff=True, is_superuser=True),
    }


@pytest.fixture
def submission(people):
    return SubmissionFactory(user=people["owner"])


def client_as(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


LOGIN_REDIRECT = 302
# (url name, args from the submission, expected status per person). Another person's submission is a 404
# (never a 403 that would reveal it exists); staff may see images (admin previews) but not others' pages.
PAGE_MATRIX = [
    ("recognizer:draw", False, {"anonymous": 302, "other": 200, "owner": 200, "staff": 200}),
    ("recognizer:upload", False, {"anonymous": 302, "other": 200, "owner": 200, "staff": 200}),
    ("recognizer:history", False, {"anonymous": 302, "other": 200, "owner": 200, "staff": 200}),
    ("recognizer:submission-detail", True, {"anonymous": 302, "other": 404, "owner": 200, "staff": 404}),
    ("recognizer:submission-delete", True, {"anonymous": 302, "other": 404, "owner": 200, "staff": 404}),
    ("account-delete", False, {"anonymous": 302, "other": 200, "owner": 200, "staff": 200}),
    ("recognizer:submission-image", True, {"anonymous": 302, "other": 404, "owner": 200, "staff": 200}),
    ("recognizer:submission-preview", True, {"anonymous": 302, "other": 404, "owner": 200, "staff": 200}),
    ("recognizer:submission-input", True, {"anonymous": 302, "other": 404, "owner": 200, "staff": 200}),
    ("recognizer:staff-models", False, {"anonymous": 302, "other": 403, "owner": 403, "staff": 200}),
    ("recognizer:staff-corrections", False, {"anonymous": 302, "other": 403, "owner": 403, "staff": 200}),
    ("recognizer:staff-review", False, {"anonymous": 302, "other": 403, "owner": 403, "staff": 200}),
    ("recognizer:health", False, {"anonymous": 200, "other": 200, "owner": 200, "staff": 200}),
    ("admin:index", False, {"anonymous": 302, "other": 302, "owner": 302, "staff": 200}),
    ("admin:recognizer_submission_changelist", False, {"anonymous": 302, "other": 302, "owner": 302, "staff": 200}),
]


@pytest.mark.parametrize("name, with_id, expected", PAGE_MATRIX, ids=[row[0] for row in PAGE_MATRIX])
@pytest.mark.parametrize("who", ["anonymous", "other", "owner", "staff"])
def test_pages(people, submission, shipped_version, name, with_id, expected, who):
    url = reverse(name, args=[submission.pk] if with_id else [])
    response = client_as(people[who]).get(url)
    assert response.status_code == expected[who], (who, url, response.status_code)
    if who == "anonymous" and expected[who] == LOGIN_REDIRECT:
        assert response["Location"].startswith(reverse("login") if not name.startswith("admin") else "/admin/login/")


API_MATRIX = [
    ("get", "/api/v1/predictions/", {"anonymous": 401, "other": 200, "owner": 200, "staff": 200}),
    ("get", "/api/v1/predictions/{id}/", {"anonymous": 401, "other": 404, "owner": 200, "staff": 404}),
    ("get", "/api/v1/predictions/{id}/image/", {"anonymous": 401, "other": 404, "owner": 200, "staff": 404}),
    ("get", "/api/v1/predictions/{id}/preview/", {"anonymous": 401, "other": 404, "owner": 200, "staff": 404}),
    ("patch", "/api/v1/predictions/{id}/correction/", {"anonymous": 401, "other": 404, "owner": 200, "staff": 404}),
    ("delete", "/api/v1/predictions/{id}/", {"anonymous": 401, "other": 404, "owner": 204, "staff": 404}),
    ("get", "/api/v1/models/", {"anonymous": 401, "other": 200, "owner": 200, "staff": 200}),
    ("get", "/api/v1/training-runs/", {"anonymous": 401, "other": 403, "owner": 403, "staff": 200}),
    ("get", "/api/v1/corrections/", {"anonymous": 401, "other": 403, "owner": 403, "staff": 200}),
    ("get", "/api/v1/staff/review/", {"anonymous": 401, "other": 403, "owner": 403, "staff": 200}),
    ("put", "/api/v1/staff/review/{id}/label/", {"anonymous": 401, "other": 403, "owner": 403, "staff": 400}),
    ("post", "/api/v1/account/delete/", {"anonymous": 401, "other": 400, "owner": 400, "staff": 400}),
    ("post", "/api/v1/models/{version}/activate/", {"anonymous": 401, "other": 403, "owner": 403, "staff": 200}),
    ("get", "/api/schema/", {"anonymous": 200, "other": 200, "owner": 200, "staff": 200}),
]


@pytest.mark.parametrize("method, path, expected", API_MATRIX, ids=[f"{m} {p}" for m, p, _ in API_MATRIX])
@pytest.mark.parametrize("who", ["anonymous", "other", "owner", "staff"])
def test_api(people, submission, shipped_version, method, path, expected, who):
    from rest_framework.test import APIClient

    client = APIClient()
    if people[who] is not None:
        client.force_authenticate(people[who])
    url = path.format(id=submission.pk, version=shipped_version.pk)
    payload = {"true_digit": 3} if method == "patch" else None
    response = getattr(client, method)(url, payload, format="json")
    assert response.status_code == expected[who], (who, url, response.content[:200])


def test_no_public_media_url(submission, settings):
    """Uploaded images are only served by access-checked views, even in DEBUG."""
    response = Client().get(settings.MEDIA_URL + submission.image.name)
    assert response.status_code == 404


def test_forms_enforce_csrf(user):
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("login"), {"username": user.username, "password": PASSWORD}).status_code == 403
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.post(reverse("recognizer:upload"), {}).status_code == 403
    submission = SubmissionFactory(user=user)
    assert client.post(reverse("recognizer:submission-delete", args=[submission.pk])).status_code == 403
    assert client.post(reverse("account-delete"), {"password": PASSWORD}).status_code == 403
    assert user.__class__.objects.filter(pk=user.pk).exists() and submission.__class__.objects.exists()


def test_login_rotates_the_session_key(user):
    client = Client()
    client.get(reverse("login"))
    client.session["before"] = True  # an anonymous session exists
    session = client.session
    session.save()
    before = session.session_key
    client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert client.session.session_key and client.session.session_key != before


@pytest.mark.parametrize("password", ["short", "12345678901", "password123", "owner-owner"])
def test_sign_up_refuses_weak_passwords(db, password):
    response = Client().post(
        reverse("signup"), {"username": "owner-owner", "password1": password, "password2": password}
    )
    assert response.status_code == 200 and not UserFactory._meta.model.objects.filter(username="owner-owner").exists()


def test_repeated_failed_sign_ins_lock_the_account_out(user, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(reverse("login"), {"username": user.username, "password": "guess"}).status_code == 200
    assert client.post(reverse("login"), {"username": user.username, "password": "guess"}).status_code == 429
    locked = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert locked.status_code == 429  # even the right password, until the cool-off passes
    assert "_auth_user_id" not in client.session
    # Another person from the same address is not locked out: the lockout is per username and address.
    other = UserFactory(username="someone")
    assert client.post(reverse("login"), {"username": other.username, "password": PASSWORD}).status_code == 302


def test_api_token_requests_are_locked_out_too(user, settings):
    from rest_framework.test import APIClient

    client = APIClient()
    settings.DIGITVISION_API_THROTTLE_RATES = {**settings.DIGITVISION_API_THROTTLE_RATES, "auth": None}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/api/v1/auth/token/", {"username": user.username, "password": "guess"})
    response = client.post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 429 and response.json()["error"]["code"] == "locked_out"
    assert "token" not in response.json()
