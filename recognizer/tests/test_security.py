"""Security hardening: tokens end with a new password or a lockout, client addresses behind trusted proxies,
deeply nested JSON, 500s logged with their request id, the API's lockout answer, staff preview links."""

import io
import json
import logging
import re

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.test import Client
from django.urls import include, path, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from digitvision_site import urls as site_urls
from recognizer.tests.factories import SubmissionFactory, UserFactory

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new passphrase, 2026"
TOKEN_URL = "/api/v1/auth/token/"
PREDICTIONS = "/api/v1/predictions/"


def assert_api_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def token_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    assert client.get(PREDICTIONS).status_code == 200
    return client


# --------------------------------------------------------------------------- 1. tokens end with the password


def test_changing_the_password_on_its_page_revokes_api_tokens(user):
    api = token_of(user)
    web = Client()
    web.force_login(user)
    response = web.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert_api_error(api.get(PREDICTIONS), 401, "authentication_failed")
    assert not Token.objects.filter(user=user).exists()


def test_resetting_the_password_revokes_api_tokens(user):
    api = token_of(user)
    web = Client()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    # Django redirects the emailed link to a URL without the token (kept in the session), then takes the form.
    landing = web.get(reverse("password_reset_confirm", args=[uid, default_token_generator.make_token(user)]))
    assert landing.status_code == 302
    response = web.post(landing["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_complete")
    assert_api_error(api.get(PREDICTIONS), 401, "authentication_failed")


def test_any_new_password_revokes_api_tokens(user, monkeypatch):
    """The admin, `manage.py changepassword`, a shell: every path through set_password()."""
    api = token_of(user)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", user.username, stdout=io.StringIO())
    assert_api_error(api.get(PREDICTIONS), 401, "authentication_failed")
    api = token_of(user)
    user.set_password(PASSWORD)
    user.save()
    assert api.get(PREDICTIONS).status_code == 401


class UpgradedHasher(MD5PasswordHasher):
    """A stand-in for a stronger default hasher in a newer Django (fast, as the suite's MD5 is)."""

    algorithm = "md5_upgraded"


def test_other_saves_and_a_rehash_at_sign_in_keep_the_token(user, settings):
    api = token_of(user)
    user.first_name = "Ada"
    user.save()
    # A new default hasher re-hashes the password at the next sign-in: the same password, so the token stays.
    settings.PASSWORD_HASHERS = [f"{__name__}.UpgradedHasher", "django.contrib.auth.hashers.MD5PasswordHasher"]
    old_hash = user.password
    assert Client().post(reverse("login"), {"username": user.username, "password": PASSWORD}).status_code == 302
    user.refresh_from_db()
    assert user.password != old_hash
    assert api.get(PREDICTIONS).status_code == 200


def test_a_lockout_revokes_api_tokens(user, settings):
    api = token_of(user)
    web = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        web.post(reverse("login"), {"username": user.username, "password": "guess"})
    assert_api_error(api.get(PREDICTIONS), 401, "authentication_failed")
    other = UserFactory(username="bystander")
    assert token_of(other).get(PREDICTIONS).status_code == 200  # only the locked-out person's


# --------------------------------------------------------------------------- 2. client addresses


@pytest.fixture
def auth_rate(settings):
    settings.DIGITVISION_API_THROTTLE_RATES = {**settings.DIGITVISION_API_THROTTLE_RATES, "auth": "10/minute"}


def _token_requests(user, forwarded_for: list[str]) -> list[int]:
    client = APIClient()
    body = {"username": user.username, "password": PASSWORD}
    return [client.post(TOKEN_URL, body, HTTP_X_FORWARDED_FOR=xff).status_code for xff in forwarded_for]


def test_x_forwarded_for_does_not_reset_the_token_throttle(user, auth_rate):
    statuses = _token_requests(user, [f"203.0.113.{i}" for i in range(25)])
    assert statuses[:10] == [200] * 10 and set(statuses[10:]) == {429}


def test_behind_one_proxy_its_address_for_the_client_counts(user, auth_rate, settings):
    settings.NUM_PROXIES = 1
    # A client prepends what it likes; the proxy appends the address it saw, the one that counts.
    spoofed = _token_requests(user, [f"198.51.100.{i}, 203.0.113.7" for i in range(12)])
    assert spoofed[:10] == [200] * 10 and set(spoofed[10:]) == {429}
    assert _token_requests(user, ["203.0.113.8"]) == [200]  # another client behind the proxy


def test_client_address_rule():
    from django.test import RequestFactory, override_settings

    from recognizer.client_address import client_address

    def address(xff: str | None, proxies: int) -> str | None:
        extra = {"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {}
        with override_settings(NUM_PROXIES=proxies):
            return client_address(RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", **extra))

    assert address("1.2.3.4", 0) == "10.0.0.1"
    assert address(None, 1) == "10.0.0.1"
    assert address("1.2.3.4, 5.6.7.8", 1) == "5.6.7.8"
    assert address("1.2.3.4, 5.6.7.8", 2) == "1.2.3.4"
    assert address("5.6.7.8", 2) == "5.6.7.8"  # fewer hops than proxies: the first proxy's
    assert address("not-an-address", 1) == "10.0.0.1"
    assert address("2001:db8::1", 1) == "2001:db8::1"


# --------------------------------------------------------------------------- 4. deeply nested JSON

NESTED = {
    "arrays": "[" * 100_000 + "]" * 100_000,
    "objects": '{"a":' * 100_000 + "1" + "}" * 100_000,
}


@pytest.mark.parametrize("body", NESTED.values(), ids=NESTED.keys())
def test_deeply_nested_json_is_a_parse_error_anonymously(db, body):
    response = APIClient().generic("POST", TOKEN_URL, body, content_type="application/json")
    assert_api_error(response, 400, "parse_error")


@pytest.mark.parametrize("body", NESTED.values(), ids=NESTED.keys())
def test_deeply_nested_json_is_a_parse_error_signed_in(token_client, body):
    response = token_client.generic("POST", PREDICTIONS, body, content_type="application/json")
    assert_api_error(response, 400, "parse_error")


# --------------------------------------------------------------------------- 5. 500s logged with their request id


def _boom(request):
    raise RuntimeError("kaboom from a test view")


# The site's own URLs and error handlers, and a view that fails.
urlpatterns = [path("api/v1/boom/", _boom), path("boom/", _boom), path("", include("digitvision_site.urls"))]
handler500 = site_urls.handler500


@pytest.fixture
def log_stream():
    """The stderr handler's stream, swapped for a buffer: what a log collector would read."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "stderr")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def _json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("url", ["/api/v1/boom/", "/boom/"])
def test_a_500_is_logged_as_json_with_its_request_id(db, settings, log_stream, url):
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get(url)
    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    errors = [line for line in _json_lines(log_stream) if line["level"] == "ERROR"]
    assert len(errors) == 1, log_stream.getvalue()
    error = errors[0]
    assert error["logger"] == "django.request" and error["request_id"] == request_id
    assert url in error["message"] and error["status_code"] == 500
    assert "RuntimeError: kaboom from a test view" in error["traceback"] and "_boom" in error["traceback"]
    if url.startswith("/api/"):
        assert response.json()["error"]["details"] == {"request_id": request_id}


@pytest.mark.urls(__name__)
def test_a_sane_request_id_is_kept_and_an_odd_one_replaced(db, settings, log_stream):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    kept = client.get("/api/v1/boom/", HTTP_X_REQUEST_ID="lb-7f3a.42")
    assert kept["X-Request-ID"] == "lb-7f3a.42"
    assert _json_lines(log_stream)[-1]["request_id"] == "lb-7f3a.42"
    for odd in ["a b", "x" * 500, '"}{', "é"]:
        replaced = client.get("/api/v1/boom/", HTTP_X_REQUEST_ID=odd)
        assert re.fullmatch(r"[0-9a-f]{32}", replaced["X-Request-ID"])


def test_every_response_carries_a_request_id(db):
    assert re.fullmatch(r"[0-9a-f]{32}", Client().get("/health/")["X-Request-ID"])


# --------------------------------------------------------------------------- 6. lockout: 429, per real address


def _fail(client, user, n: int, **headers) -> list:
    return [client.post(TOKEN_URL, {"username": user.username, "password": "guess"}, **headers) for _ in range(n)]


def test_api_lockout_is_429_locked_out_with_retry_after(user, settings):
    settings.DIGITVISION_API_THROTTLE_RATES = {**settings.DIGITVISION_API_THROTTLE_RATES, "auth": None}
    client = APIClient()
    *wrong, locking = _fail(client, user, settings.AXES_FAILURE_LIMIT)
    for response in wrong:
        assert_api_error(response, 400, "invalid")  # a wrong password, as before
    cool_off = round(settings.AXES_COOLOFF_TIME * 3600)
    for response in [locking, client.post(TOKEN_URL, {"username": user.username, "password": PASSWORD})]:
        error = assert_api_error(response, 429, "locked_out")  # even the right password, until the cool-off ends
        assert error["details"]["retry_after"] == cool_off and response["Retry-After"] == str(cool_off)
        assert "token" not in response.json()


def test_page_lockout_is_429(user, settings):
    client = Client()
    statuses = [
        client.post(reverse("login"), {"username": user.username, "password": "guess"}).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}


def test_behind_a_proxy_one_client_does_not_lock_out_another(user, settings):
    settings.NUM_PROXIES = 1
    settings.DIGITVISION_API_THROTTLE_RATES = {**settings.DIGITVISION_API_THROTTLE_RATES, "auth": None}
    attacker = {"HTTP_X_FORWARDED_FOR": "198.51.100.66", "REMOTE_ADDR": "10.0.0.2"}
    victim = {"HTTP_X_FORWARDED_FOR": "203.0.113.5", "REMOTE_ADDR": "10.0.0.2"}  # the same proxy
    assert _fail(APIClient(), user, settings.AXES_FAILURE_LIMIT, **attacker)[-1].status_code == 429
    web = Client()
    assert web.post(reverse("login"), {"username": user.username, "password": "guess"}, **attacker).status_code == 429
    login = web.post(reverse("login"), {"username": user.username, "password": PASSWORD}, **victim)
    assert login.status_code == 302
    token = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, **victim)
    assert token.status_code == 200 and token.json()["token"]


# --------------------------------------------------------------------------- 7. staff preview links


def test_a_correction_preview_link_answers_staff_with_an_image(staff_api):
    submission = SubmissionFactory(user=UserFactory(username="person"), corrected_digit=3)
    listed = staff_api.get("/api/v1/corrections/")
    assert listed.status_code == 200
    link = next(row["preview"] for row in listed.json()["results"] if row["id"] == submission.pk)
    response = staff_api.get(link)
    assert response.status_code == 200 and response["Content-Type"].startswith("image/")
    Image.open(io.BytesIO(b"".join(response.streaming_content))).verify()


def test_the_correction_preview_is_staff_only(staff_api):
    submission = SubmissionFactory(user=UserFactory(username="person"), corrected_digit=3)
    url = f"/api/v1/corrections/{submission.pk}/preview/"
    person = APIClient()
    person.force_authenticate(submission.user)
    assert_api_error(person.get(url), 403, "permission_denied")
    missing = staff_api.get("/api/v1/corrections/999999/preview/", HTTP_ACCEPT="image/webp")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
