"""The web pages, and the API calls their script makes, through Django's test client."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from recognizer.models import Submission
from recognizer.tests.factories import SubmissionFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client_in(client, user) -> Client:
    client.force_login(user)
    return client


PREDICTIONS = "/api/v1/predictions/"


def _predict(client: Client, data: bytes, name: str = "canvas.png", source: str = "canvas", **extra):
    """What the page script sends: the image to the public API, with the session cookie."""
    upload = SimpleUploadedFile(name, data, content_type="image/png")
    return client.post(PREDICTIONS, {"image": upload, "source": source, **extra}, HTTP_ACCEPT="application/json")


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    "name,args",
    [
        ("recognizer:draw", []),
        ("recognizer:upload", []),
        ("recognizer:history", []),
        ("recognizer:submission-detail", [1]),
        ("recognizer:submission-image", [1]),
        ("recognizer:submission-input", [1]),
    ],
)
def test_pages_require_login(client, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_the_correction_form_requires_login(client):
    response = client.post(reverse("recognizer:submission-correct", args=[1]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_private_json_endpoint_is_gone(client_in):
    """The page script uses the public API; there is no second contract."""
    assert client_in.post("/predict/").status_code == 404


def test_signup_creates_and_logs_in(client):
    response = client.post(
        reverse("signup"),
        {
            "username": "ada",
            "email": "ada@example.com",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("recognizer:draw")
    assert get_user_model().objects.filter(username="ada").exists()
    assert client.get(reverse("recognizer:draw")).status_code == 200


def test_signup_rejects_mismatched_passwords(client):
    response = client.post(
        reverse("signup"), {"username": "bob", "password1": "a-long-Passphrase-42", "password2": "different-Pass-43"}
    )
    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="bob").exists()


def test_login_and_logout(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("recognizer:draw")
    assert client.get(reverse("recognizer:history")).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("recognizer:history")).status_code == 302


@pytest.mark.parametrize("name", ["login", "signup", "password_reset", "password_reset_done"])
def test_account_pages_render_in_site_layout(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"DigitVision" in response.content
    assert b"Django administration" not in response.content


def test_password_reset_sends_email(client, user, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": user.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/accounts/reset/" in mailoutbox[0].body


def test_password_change_page(client_in):
    response = client_in.get(reverse("password_change"))
    assert response.status_code == 200
    assert b"Change password" in response.content


# --------------------------------------------------------------------------- draw page and the API it calls


def test_draw_page_carries_the_testid_contract(client_in):
    response = client_in.get(reverse("recognizer:draw"))
    assert response.status_code == 200
    html = response.content.decode()
    for testid in ["draw-canvas", "clear-button", "predict-button", "prediction-digit", "prediction-confidence"]:
        assert f'data-testid="{testid}"' in html
    assert "data-last-latency-ms" in html
    assert "recognizer/digitvision.js" in html
    assert 'name="csrf-token"' in html
    assert f'data-api-url="{PREDICTIONS}"' in html  # the script's one endpoint


def test_upload_page_carries_the_upload_input(client_in, settings):
    response = client_in.get(reverse("recognizer:upload"))
    html = response.content.decode()
    assert 'data-testid="upload-input"' in html
    accepted = "image/png,image/jpeg,image/heic,image/heif,image/avif,image/webp,image/gif,image/bmp,image/tiff"
    assert f'accept="{accepted}"' in html
    assert f'data-max-bytes="{settings.DIGITVISION_MAX_UPLOAD_BYTES}"' in html
    assert 'data-testid="prediction-digit"' in html
    assert f'data-api-url="{PREDICTIONS}"' in html


def test_the_page_script_uses_only_the_public_api():
    from django.conf import settings

    script = (settings.BASE_DIR / "static" / "recognizer" / "digitvision.js").read_text()
    assert "/predict/" not in script and "data-testid" not in script


@pytest.mark.parametrize("fixture,digit", [("canvas_one", 1), ("canvas_seven", 7)])
def test_predict_canvas_png(client_in, user, shipped_version, request, fixture, digit):
    response = _predict(client_in, request.getfixturevalue(fixture))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["digit"] == digit
    assert 0.5 < data["confidence"] <= 1.0
    assert len(data["probabilities"]) == 10
    assert data["model_version"] == shipped_version.name
    submission = Submission.objects.get(pk=data["id"])
    assert submission.user == user and submission.source == "canvas" and submission.predicted_digit == digit
    assert client_in.get(reverse("recognizer:submission-input", args=[submission.pk])).status_code == 200


def test_continuing_a_drawing_replaces_its_previous_prediction(
    client_in, shipped_version, canvas_one, canvas_seven, settings, django_capture_on_commit_callbacks
):
    first = _predict(client_in, canvas_one).json()
    stored = Submission.objects.get(pk=first["id"])
    files = [settings.MEDIA_ROOT / stored.image.name, settings.MEDIA_ROOT / stored.input_image.name]
    assert all(f.is_file() for f in files)
    with django_capture_on_commit_callbacks(execute=True):
        second = _predict(client_in, canvas_seven, replaces=str(first["id"])).json()
    assert list(Submission.objects.values_list("pk", flat=True)) == [second["id"]]
    assert not any(f.exists() for f in files)  # the replaced submission's files went with it


def test_a_corrected_foreign_or_missing_submission_is_never_replaced(
    client_in, shipped_version, canvas_one, user, media_root
):
    first = _predict(client_in, canvas_one).json()
    client_in.post(reverse("recognizer:submission-correct", args=[first["id"]]), {"digit": 1})
    foreign = SubmissionFactory()
    files_before = sorted(p for p in media_root.rglob("*") if p.is_file())
    for replaces in (first["id"], foreign.pk, 999_999):
        response = _predict(client_in, canvas_one, replaces=str(replaces))
        assert response.status_code == 409, response.content
        assert response.json()["error"]["code"] == "not_replaceable"  # the same for all: nothing is revealed
    assert _predict(client_in, canvas_one, replaces="not-a-number").status_code == 400
    assert Submission.objects.filter(pk__in=[first["id"], foreign.pk]).count() == 2
    assert Submission.objects.filter(user=user).count() == 1  # nothing new was stored for a refused replace
    assert sorted(p for p in media_root.rglob("*") if p.is_file()) == files_before  # ... and no file left


def test_predict_upload_source(client_in, shipped_version, digit_png):
    response = _predict(client_in, digit_png.read_bytes(), name="seven.png", source="upload")
    assert response.status_code == 201
    assert response.json()["digit"] == 7
    assert Submission.objects.get().source == "upload"


def test_predict_blank_canvas_is_422_and_stores_nothing(client_in, shipped_version, blank_canvas):
    response = _predict(client_in, blank_canvas)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_digit"
    assert response.json()["error"]["message"].startswith("No digit found")
    assert not Submission.objects.exists()


def test_predict_not_an_image_is_400(client_in, shipped_version, text_file):
    response = _predict(client_in, text_file.read_bytes(), name="notes.png")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_image"
    assert "not an image" in response.json()["error"]["message"]
    assert not Submission.objects.exists()


def test_predict_too_large_is_413(client_in, shipped_version, canvas_one, settings):
    settings.DIGITVISION_MAX_UPLOAD_BYTES = 100
    response = _predict(client_in, canvas_one)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Submission.objects.exists()


def test_predict_without_active_model_is_503(client_in, canvas_one):
    response = _predict(client_in, canvas_one)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "model_unavailable"


def test_predict_requires_csrf(user, shipped_version, canvas_one):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert _predict(client, canvas_one).status_code == 403
    client.get(reverse("recognizer:draw"))  # sets the CSRF cookie, as the page does
    token = client.cookies["csrftoken"].value
    upload = SimpleUploadedFile("canvas.png", canvas_one, content_type="image/png")
    response = client.post(PREDICTIONS, {"image": upload, "source": "canvas"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201


# --------------------------------------------------------------------------- upload page without JavaScript


def test_upload_form_post_redirects_to_result(client_in, shipped_version, digit_png):
    upload = SimpleUploadedFile("seven.png", digit_png.read_bytes(), content_type="image/png")
    response = client_in.post(reverse("recognizer:upload"), {"image": upload})
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("recognizer:submission-detail", args=[submission.pk])
    assert submission.source == "upload" and submission.predicted_digit == 7
    page = client_in.get(response["Location"])
    assert b'data-testid="prediction-digit">7<' in page.content


def test_upload_form_shows_errors_and_stores_nothing(client_in, shipped_version, blank_png, text_file):
    upload = SimpleUploadedFile("blank.png", blank_png.read_bytes(), content_type="image/png")
    response = client_in.post(reverse("recognizer:upload"), {"image": upload})
    assert response.status_code == 422
    assert b"No digit found" in response.content
    upload = SimpleUploadedFile("notes.txt", text_file.read_bytes(), content_type="text/plain")
    response = client_in.post(reverse("recognizer:upload"), {"image": upload})
    assert response.status_code == 400
    assert b"not an image" in response.content
    assert client_in.post(reverse("recognizer:upload"), {}).status_code == 400
    assert not Submission.objects.exists()


def test_upload_form_refuses_an_undocumented_format(client_in, shipped_version, digit_png):
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(digit_png).save(buffer, format="PPM")
    upload = SimpleUploadedFile("seven.ppm", buffer.getvalue(), content_type="image/x-portable-pixmap")
    response = client_in.post(reverse("recognizer:upload"), {"image": upload})
    assert response.status_code == 415
    assert b"PPM images are not accepted" in response.content
    assert not Submission.objects.exists()


def test_upload_form_without_a_model_says_so(client_in, digit_png):
    upload = SimpleUploadedFile("seven.png", digit_png.read_bytes(), content_type="image/png")
    response = client_in.post(reverse("recognizer:upload"), {"image": upload})
    assert response.status_code == 503
    assert b"bootstrap" in response.content or b"not available" in response.content


def test_upload_form_too_large(client_in, shipped_version, digit_png, settings):
    settings.DIGITVISION_MAX_UPLOAD_BYTES = 100
    upload = SimpleUploadedFile("seven.png", digit_png.read_bytes(), content_type="image/png")
    response = client_in.post(reverse("recognizer:upload"), {"image": upload})
    assert response.status_code == 413
    assert b"too large" in response.content
    assert not Submission.objects.exists()


# --------------------------------------------------------------------------- history and detail


def _ids(response) -> list[int]:
    return [s.pk for s in response.context["page_obj"].object_list]


def test_history_shows_only_own_submissions_newest_first(client_in, user):
    mine = [SubmissionFactory(user=user) for _ in range(3)]
    other = SubmissionFactory()
    response = client_in.get(reverse("recognizer:history"))
    assert response.status_code == 200
    assert _ids(response) == [s.pk for s in reversed(mine)]
    assert reverse("recognizer:submission-detail", args=[other.pk]).encode() not in response.content


def test_history_filters_and_sort(client_in, user):
    low = SubmissionFactory(user=user, predicted_digit=3, confidence=0.4)
    high = SubmissionFactory(user=user, predicted_digit=3, confidence=0.95)
    fixed = SubmissionFactory(user=user, predicted_digit=5, confidence=0.7, corrected_digit=3)
    five = SubmissionFactory(user=user, predicted_digit=5, confidence=0.6)
    url = reverse("recognizer:history")
    assert set(_ids(client_in.get(url, {"digit": 3}))) == {low.pk, high.pk, fixed.pk}
    assert _ids(client_in.get(url, {"corrected": "yes"})) == [fixed.pk]
    assert set(_ids(client_in.get(url, {"corrected": "no"}))) == {low.pk, high.pk, five.pk}
    assert _ids(client_in.get(url, {"order": "lowest_confidence"})) == [low.pk, five.pk, fixed.pk, high.pk]
    assert _ids(client_in.get(url, {"digit": 3, "corrected": "no", "order": "lowest_confidence"})) == [low.pk, high.pk]
    # Nonsense values are ignored, not errors.
    response = client_in.get(url, {"digit": "x", "order": "random", "corrected": "maybe"})
    assert response.status_code == 200 and len(_ids(response)) == 4


def test_history_pagination_keeps_filters(client_in, user):
    for _ in range(30):
        SubmissionFactory(user=user, predicted_digit=4)
    SubmissionFactory(user=user, predicted_digit=2)
    url = reverse("recognizer:history")
    response = client_in.get(url, {"digit": 4, "order": "lowest_confidence"})
    assert len(_ids(response)) == 24
    html = response.content.decode()
    assert 'href="?digit=4&amp;order=lowest_confidence&amp;page=2"' in html
    page2 = client_in.get(url, {"digit": 4, "order": "lowest_confidence", "page": 2})
    assert len(_ids(page2)) == 6
    assert 'href="?digit=4&amp;order=lowest_confidence&amp;page=1"' in page2.content.decode()


def test_detail_page(client_in, user):
    submission = SubmissionFactory(user=user, predicted_digit=8, confidence=0.875)
    response = client_in.get(reverse("recognizer:submission-detail", args=[submission.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="prediction-digit">8<' in html
    assert "87.5%" in html
    assert submission.model_version.name in html
    assert reverse("recognizer:submission-image", args=[submission.pk]) in html
    assert reverse("recognizer:submission-input", args=[submission.pk]) in html
    assert "/media/" not in html


def test_detail_of_another_users_submission_is_404(client_in):
    other = SubmissionFactory()
    assert client_in.get(reverse("recognizer:submission-detail", args=[other.pk])).status_code == 404
    assert client_in.get(reverse("recognizer:submission-detail", args=[999999])).status_code == 404


# --------------------------------------------------------------------------- corrections


def _correct(client, submission, digit):
    """The correction form without JavaScript."""
    return client.post(reverse("recognizer:submission-correct", args=[submission.pk]), {"digit": digit})


def _correct_api(client, submission, digit, **extra):
    """What the page script sends."""
    url = f"{PREDICTIONS}{submission.pk}/correction/"
    return client.put(url, {"true_digit": digit}, content_type="application/json", **extra)


def test_correction_sets_and_changes_state(client_in, user):
    submission = SubmissionFactory(user=user, predicted_digit=4)
    response = _correct_api(client_in, submission, 9)
    assert response.status_code == 200
    assert response.json()["corrected_digit"] == 9 and response.json()["digit"] == 4
    submission.refresh_from_db()
    assert submission.corrected_digit == 9 and submission.corrected_by == user
    assert _correct_api(client_in, submission, 4).json()["corrected_digit"] == 4  # confirm, changing the answer
    submission.refresh_from_db()
    assert submission.corrected_digit == 4
    page = client_in.get(reverse("recognizer:submission-detail", args=[submission.pk])).content.decode()
    assert "Confirmed as 4" in page
    assert f'data-submission-id="{submission.pk}"' in page and 'data-corrected-digit="4"' in page


def test_correction_form_post_redirects(client_in, user):
    submission = SubmissionFactory(user=user, predicted_digit=4)
    response = _correct(client_in, submission, 1)
    assert response.status_code == 302
    assert response["Location"] == reverse("recognizer:submission-detail", args=[submission.pk])
    page = client_in.get(response["Location"]).content.decode()
    assert "Corrected to 1" in page


@pytest.mark.parametrize("digit", ["10", "-1", "a", ""])
def test_correction_validates_digit(client_in, user, digit):
    submission = SubmissionFactory(user=user)
    response = _correct(client_in, submission, digit)
    assert response.status_code == 400  # the error page, from the one page mapping of the hierarchy
    assert "Choose a digit from 0 to 9, or say it is not a digit." in response.content.decode()
    assert 'data-error-code="invalid_digit"' in response.content.decode()
    response = _correct_api(client_in, submission, digit)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"
    submission.refresh_from_db()
    assert submission.corrected_digit is None


def test_correction_of_another_users_submission_is_404(client_in):
    other = SubmissionFactory()
    assert _correct(client_in, other, 3).status_code == 404
    assert _correct_api(client_in, other, 3).status_code == 404
    other.refresh_from_db()
    assert other.corrected_digit is None


def test_correction_requires_post(client_in, user):
    submission = SubmissionFactory(user=user)
    assert client_in.get(reverse("recognizer:submission-correct", args=[submission.pk])).status_code == 405


def test_correction_requires_csrf(user):
    submission = SubmissionFactory(user=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert _correct(client, submission, 3).status_code == 403
    assert _correct_api(client, submission, 3).status_code == 403
    client.get(reverse("recognizer:submission-detail", args=[submission.pk]))
    token = client.cookies["csrftoken"].value
    assert _correct_api(client, submission, 3, HTTP_X_CSRFTOKEN=token).status_code == 200


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    "name,field", [("recognizer:submission-image", "image"), ("recognizer:submission-input", "input_image")]
)
def test_image_views_serve_the_owner(client_in, user, name, field):
    submission = SubmissionFactory(user=user)
    response = client_in.get(reverse(name, args=[submission.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == getattr(submission, field).read()
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize("name", ["recognizer:submission-image", "recognizer:submission-input"])
def test_image_views_404_for_other_users(client_in, name):
    other = SubmissionFactory()
    assert client_in.get(reverse(name, args=[other.pk])).status_code == 404


def test_image_views_serve_staff(staff_client):
    submission = SubmissionFactory()
    assert staff_client.get(reverse("recognizer:submission-image", args=[submission.pk])).status_code == 200


def test_media_is_not_served_publicly(client_in, user):
    submission = SubmissionFactory(user=user)
    assert client_in.get("/media/" + submission.image.name).status_code == 404


# --------------------------------------------------------------------------- deleting


def _stored(media_root, submission) -> list[bool]:
    return [(media_root / f.name).exists() for f in (submission.image, submission.input_image)]


def test_a_person_deletes_a_submission_after_confirming(
    client_in, user, media_root, django_capture_on_commit_callbacks
):
    submission = SubmissionFactory(user=user)
    url = reverse("recognizer:submission-delete", args=[submission.pk])
    detail = client_in.get(reverse("recognizer:submission-detail", args=[submission.pk])).content.decode()
    assert url in detail

    confirm = client_in.get(url)  # asking changes nothing
    assert confirm.status_code == 200 and Submission.objects.filter(pk=submission.pk).exists()
    assert 'data-testid="confirm-delete-button"' in confirm.content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # files go once the deletion is committed
        response = client_in.post(url, follow=True)

    assert response.redirect_chain == [(reverse("recognizer:history"), 302)]
    assert f"Submission #{submission.pk} has been deleted." in response.content.decode()
    assert not Submission.objects.filter(pk=submission.pk).exists()
    assert _stored(media_root, submission) == [False, False]


def test_nobody_deletes_another_persons_submission(client, media_root):
    submission = SubmissionFactory()
    for intruder in (UserFactory(), UserFactory(is_staff=True)):
        client.force_login(intruder)
        assert client.post(reverse("recognizer:submission-delete", args=[submission.pk])).status_code == 404
    assert Submission.objects.filter(pk=submission.pk).exists()
    assert _stored(media_root, submission) == [True, True]


def test_deleting_an_account_takes_everything_the_person_sent(
    client_in, user, media_root, django_capture_on_commit_callbacks
):
    mine = SubmissionFactory.create_batch(3, user=user)
    theirs = SubmissionFactory(corrected_digit=4, corrected_by=user)  # a correction made as staff stays
    Token.objects.create(user=user)
    page = client_in.get(reverse("account-delete")).content.decode()
    assert "your 3 submissions" in page

    refused = client_in.post(reverse("account-delete"), {"password": "not it"})
    assert refused.status_code == 200 and "That is not your password." in refused.content.decode()
    assert get_user_model().objects.filter(pk=user.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_in.post(reverse("account-delete"), {"password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("login"))
    assert "Your account and its 3 submissions have been deleted." in response.content.decode()
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not Submission.objects.filter(pk__in=[s.pk for s in mine]).exists()
    assert not Token.objects.exists()
    assert all(_stored(media_root, s) == [False, False] for s in mine)
    theirs.refresh_from_db()
    assert theirs.corrected_digit == 4 and theirs.corrected_by is None and _stored(media_root, theirs) == [True, True]
    assert client_in.get(reverse("recognizer:history")).status_code == 302  # signed out


# --------------------------------------------------------------------------- error pages and copy


def _page_text(response) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_not_found_and_forbidden_are_pages_of_the_site(client_in):
    missing = client_in.get("/no-such-page/")
    assert missing.status_code == 404
    html = missing.content.decode()
    assert '<html lang="en">' in html and "<title>Page not found · DigitVision</title>" in html
    assert 'aria-label="Main"' in html and "History" in _page_text(missing)  # the menu, and what to do
    forbidden = client_in.get(reverse("recognizer:staff-models"))
    assert forbidden.status_code == 403 and "<title>Not allowed · DigitVision</title>" in forbidden.content.decode()
    assert "staff only" in _page_text(forbidden)


def test_the_500_page_renders_with_an_empty_context_and_no_database(django_assert_num_queries):
    from django.template.loader import render_to_string

    with django_assert_num_queries(0):
        html = render_to_string("500.html")
    assert "<title>Something went wrong · DigitVision</title>" in html and '<html lang="en">' in html
    assert "Try again" in html


def test_a_server_error_answers_the_500_page(client_in, monkeypatch):
    from recognizer.views import people

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(people, "history_list_for_user", broken)
    client_in.raise_request_exception = False
    response = client_in.get(reverse("recognizer:history"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content and b"boom" not in response.content


def test_the_sign_in_lockout_says_for_how_long_and_how_to_reset(client, user, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = 0.25
    for _ in range(2):
        response = client.post(reverse("login"), {"username": user.username, "password": "wrong"})
    assert response.status_code == 429
    text = _page_text(response)
    assert "<title>Sign-in paused · DigitVision</title>" in response.content.decode()
    assert "paused for 15 minutes" in text and "2 unsuccessful attempts" in text
    assert f'href="{reverse("password_reset")}"' in response.content.decode()


def test_password_rules_show_under_the_password_field(client):
    response = client.post(reverse("signup"), {"username": "newcomer", "password1": "short", "password2": "short"})
    form = response.context["form"]
    assert form.errors["password1"] and "password2" not in form.errors
    assert any("too short" in e for e in form.errors["password1"])
    mismatch = client.post(
        reverse("signup"), {"username": "newcomer", "password1": "drawing-digits-42", "password2": "other-42-x"}
    )
    assert "password2" in mismatch.context["form"].errors  # a mismatch is about the confirmation


def test_password_change_rules_show_under_the_new_password(client_in):
    response = client_in.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"},
    )
    form = response.context["form"]
    assert form.errors["new_password1"] and "new_password2" not in form.errors


def test_an_empty_filtered_history_says_so_and_offers_to_clear(client_in, user):
    SubmissionFactory.create_batch(3, user=user, predicted_digit=1)
    text = _page_text(client_in.get(reverse("recognizer:history"), {"digit": 7}))
    assert "No submissions match these filters" in text and "Nothing here yet" not in text
    assert "Clear the filters" in text
    fresh = UserFactory()
    other = Client()
    other.force_login(fresh)
    assert "Nothing here yet" in _page_text(other.get(reverse("recognizer:history")))


def test_history_cards_show_date_source_and_no_flat_hundred_percent(client_in, user):
    import datetime as dt

    when = dt.datetime(2026, 12, 1, 9, 57, tzinfo=dt.UTC)
    SubmissionFactory(user=user, confidence=0.99996, source="upload", created_at=when)
    text = _page_text(client_in.get(reverse("recognizer:history")))
    assert "1 Dec 2026, 09:57 UTC" in text and "Upload" in text
    assert ">99.9%" in client_in.get(reverse("recognizer:history")).content.decode().replace("&gt;", ">")
    assert "100%" not in text and "100.0%" not in text


def test_the_delete_confirmation_names_the_corrected_digit(client_in, user):
    submission = SubmissionFactory(user=user, predicted_digit=7, corrected_digit=1)
    text = _page_text(client_in.get(reverse("recognizer:submission-delete", args=[submission.pk])))
    assert "A 1 (corrected; the model read 7)" in text


@pytest.mark.parametrize(
    "p,text",
    [(1.0, "100.0%"), (0.99996, ">99.9%"), (0.9994, "99.9%"), (0.5, "50.0%"), (0.00004, "<0.1%"), (0.0, "0.0%")],
)
def test_one_percentage_rule(p, text):
    from recognizer.templatetags.digitvision import percent

    assert percent(p) == text


def test_the_page_script_shows_percentages_by_the_same_rule():
    from django.conf import settings

    source = (settings.BASE_DIR / "static" / "recognizer" / "result_panel.js").read_text()
    assert 'if (text === "100.0" && p < 1) return ">99.9%";' in source
    assert 'if (text === "0.0" && p > 0) return "<0.1%";' in source


def test_upload_errors_are_sentences_with_every_format(client_in, shipped_version, text_file):
    with open(text_file, "rb") as f:
        response = client_in.post(reverse("recognizer:upload"), {"image": f})
    text = _page_text(response)
    assert "This is not an image file that can be read: send PNG, JPEG, HEIC, AVIF, WebP, GIF, BMP or TIFF." in text


# --------------------------------------------------------------------------- not a digit


def _canvas_eleven() -> bytes:
    """Two upright strokes side by side: "looks like several digits"."""
    from recognizer.tests.conftest import canvas_png

    def draw(d):
        for x in (90, 190):
            d.line([(x, 40), (x, 240)], fill=(0, 0, 0, 255), width=24)

    return canvas_png(draw)


def _detail(client, submission) -> str:
    return client.get(reverse("recognizer:submission-detail", args=[submission.pk])).content.decode()


def test_the_panel_carries_the_not_a_digit_answer_and_correction(client_in):
    """Empty until the script fills it: the refusal's text, each reason's sentence and the "Not a digit" button."""
    html = client_in.get(reverse("recognizer:draw")).content.decode()
    assert 'data-testid="prediction-refusal"' in html and "This doesn&#x27;t look like a single digit" not in html
    assert "This doesn't look like a single digit" in html
    assert 'data-reason="not a digit"' in html and 'data-reason="looks like several digits"' in html
    assert 'data-testid="prediction-closest"' in html
    assert 'name="not_a_digit" value="true" class="digit-btn not-a-digit-btn"' in html
    # "Read as a number", for the answer "looks like several digits": there, hidden until then.
    assert re.search(r'<form class="result-number-hint" method="post" data-result-number-hint hidden', html)
    assert 'data-numbers-url="/api/v1/numbers/"' in html and ">Read as a number</button>" in html


def test_a_refused_drawing_is_stored_and_answered_as_not_a_digit(client_in, refusing_model, canvas_seven):
    data = _predict(client_in, canvas_seven).json()
    assert (data["digit"], data["confidence"], data["not_a_digit"], data["reason"]) == (None, None, True, "not a digit")
    assert data["closest_digit"] == 7 and 0 < data["closest_probability"] <= 1
    submission = Submission.objects.get(pk=data["id"])
    assert submission.not_a_digit and submission.predicted_digit is None


def test_the_upload_form_shows_a_refusal_without_a_digit(client_in, refusing_model, digit_png):
    upload = SimpleUploadedFile("seven.png", digit_png.read_bytes(), content_type="image/png")
    response = client_in.post(reverse("recognizer:upload"), {"image": upload}, follow=True)
    html = response.content.decode()
    submission = Submission.objects.get()
    assert submission.not_a_digit and submission.refusal_reason == "not a digit"
    assert 'data-testid="prediction-digit"></span>' in html
    assert 'data-testid="prediction-confidence"></span>' in html
    assert 'data-answer="not-a-digit"' in html and "This doesn't look like a single digit" in html
    assert f"closest digit: {submission.closest_digit}, " in html


def test_the_detail_page_of_a_refusal(client_in, user):
    submission = SubmissionFactory(user=user, refused=True)
    html = _detail(client_in, submission)
    text = _page_text(client_in.get(reverse("recognizer:submission-detail", args=[submission.pk])))
    assert 'data-testid="prediction-digit"></span>' in html and 'data-answer="not-a-digit"' in html
    assert "closest digit: 4, 31.0%" in html
    assert "Predicted not a digit Reason not a digit Closest digit 4 (31.0%)" in text
    assert "It may be a letter, a shape or a scribble." in text
    assert re.search(r'<form class="result-number-hint" method="post" data-result-number-hint hidden', html)
    # The ten probabilities, none marked as the answer.
    assert "31.0%" in text and '<li data-digit="4" class="top">' not in html
    # Confirming says "not a digit"; each digit corrects it.
    assert 'data-confirm-button\n                name="not_a_digit" value="true"' in html
    assert 'data-not-a-digit="true"' in html and 'data-corrected-not-a-digit="false"' in html


def test_several_digits_say_so_and_where_numbers_will_be_read(client_in, refusing_model):
    data = _predict(client_in, _canvas_eleven()).json()
    assert data["not_a_digit"] and data["reason"] == "looks like several digits"
    html = _detail(client_in, Submission.objects.get(pk=data["id"]))
    assert '<p class="result-refusal-reason" data-reason="looks like several digits">' in html
    action = reverse("recognizer:submission-read-as-number", args=[data["id"]])
    assert re.search(
        rf'<form class="result-number-hint" method="post" data-result-number-hint\s+action="{action}"', html
    )
    assert ">Read as a number</button>" in html


def _correct_to(client, submission, **answer):
    return client.post(reverse("recognizer:submission-correct", args=[submission.pk]), answer)


def test_a_refusal_is_corrected_to_a_digit_or_confirmed_without_javascript(client_in, user):
    submission = SubmissionFactory(user=user, refused=True)
    response = _correct_to(client_in, submission, digit=4)
    assert response.status_code == 302
    submission.refresh_from_db()
    assert (submission.corrected_digit, submission.corrected_not_a_digit) == (4, False)
    html = _detail(client_in, submission)
    assert "Corrected to 4" in html and 'data-digit-button\n                aria-pressed="true">4<' in html
    assert "Corrected</dt><dd>to 4," in html

    _correct_to(client_in, submission, not_a_digit="true")
    submission.refresh_from_db()
    assert (submission.corrected_digit, submission.corrected_not_a_digit) == (None, True)
    html = _detail(client_in, submission)
    assert "Confirmed: not a digit" in html and "Confirmed</dt><dd>as not a digit," in html
    assert 'aria-pressed="true">✓ Correct' in html


def test_a_digit_is_corrected_to_not_a_digit_without_javascript(client_in, user):
    submission = SubmissionFactory(user=user, predicted_digit=7)
    assert _correct_to(client_in, submission, not_a_digit="true").status_code == 302
    submission.refresh_from_db()
    assert submission.corrected_not_a_digit and submission.corrected_digit is None
    html = _detail(client_in, submission)
    assert "Corrected to not a digit" in html and "Corrected</dt><dd>to not a digit," in html
    assert 'data-not-a-digit-button\n                aria-pressed="true">Not a digit<' in html
    assert 'aria-pressed="false">✓ Correct' in html
    # And back to a digit.
    _correct_to(client_in, submission, digit=7)
    submission.refresh_from_db()
    assert (submission.corrected_digit, submission.corrected_not_a_digit) == (7, False)
    assert "Confirmed as 7" in _detail(client_in, submission)


@pytest.mark.parametrize(
    "answer", [{"digit": 3, "not_a_digit": "true"}, {"not_a_digit": "false"}, {"not_a_digit": "x", "digit": "10"}]
)
def test_a_correction_names_exactly_one_answer(client_in, user, answer):
    submission = SubmissionFactory(user=user, refused=True)
    response = _correct_to(client_in, submission, **answer)
    assert response.status_code == 400 and 'data-error-code="invalid_digit"' in response.content.decode()
    submission.refresh_from_db()
    assert not submission.is_corrected


def test_the_page_script_corrects_to_not_a_digit_through_the_api(client_in, user):
    submission = SubmissionFactory(user=user, predicted_digit=2)
    url = f"{PREDICTIONS}{submission.pk}/correction/"
    data = client_in.put(url, {"not_a_digit": True}, content_type="application/json").json()
    assert data["corrected_not_a_digit"] and data["is_corrected"] and data["corrected_digit"] is None
    assert "Corrected to not a digit" in _detail(client_in, submission)


def test_history_shows_refusals_and_corrections_either_way(client_in, user):
    refused = SubmissionFactory(user=user, refused=True)
    refused_to_four = SubmissionFactory(user=user, refused=True, corrected_digit=4)
    refused_confirmed = SubmissionFactory(user=user, refused=True, corrected_not_a_digit=True)
    digit_to_none = SubmissionFactory(user=user, predicted_digit=6, corrected_not_a_digit=True)
    response = client_in.get(reverse("recognizer:history"))
    html = response.content.decode()

    def card(submission) -> str:
        start = html.index(f'data-submission-id="{submission.pk}"')
        return _page_text_of(html[start : html.index("</li>", start)])

    assert card(refused).startswith("not a digit") and card(refused).endswith("unchecked")
    assert "%" not in card(refused)  # no confidence for a refusal
    assert card(refused_to_four).endswith("→ 4")
    assert card(refused_confirmed).endswith("confirmed")
    assert card(digit_to_none).startswith("6 90.0%") and card(digit_to_none).endswith("→ not a digit")


def _page_text_of(html: str) -> str:
    import re

    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.split(">", 1)[1])).strip()


def test_history_filters_on_what_the_model_said_and_the_true_answer(client_in, user):
    refused = SubmissionFactory(user=user, refused=True)
    refused_to_four = SubmissionFactory(user=user, refused=True, corrected_digit=4)
    digit = SubmissionFactory(user=user, predicted_digit=4)
    digit_to_none = SubmissionFactory(user=user, predicted_digit=6, corrected_not_a_digit=True)
    url = reverse("recognizer:history")
    assert set(_ids(client_in.get(url, {"answer": "not_a_digit"}))) == {refused.pk, refused_to_four.pk}
    assert set(_ids(client_in.get(url, {"answer": "digit"}))) == {digit.pk, digit_to_none.pk}
    assert set(_ids(client_in.get(url, {"true_answer": "not_a_digit"}))) == {refused.pk, digit_to_none.pk}
    assert set(_ids(client_in.get(url, {"true_answer": "digit"}))) == {refused_to_four.pk, digit.pk}
    assert set(_ids(client_in.get(url, {"digit": 4}))) == {refused_to_four.pk, digit.pk}
    assert _ids(client_in.get(url, {"answer": "not_a_digit", "corrected": "yes"})) == [refused_to_four.pk]
    assert _ids(client_in.get(url, {"answer": "digit", "true_answer": "not_a_digit"})) == [digit_to_none.pk]
    # Refusals have no confidence: the least sure of all.
    assert _ids(client_in.get(url, {"order": "lowest_confidence"}))[:2] == [refused_to_four.pk, refused.pk]
    # Nonsense is ignored; a filter that leaves everything out says so.
    assert len(_ids(client_in.get(url, {"answer": "maybe", "true_answer": "7"}))) == 4
    SubmissionFactory(user=user, predicted_digit=1)
    text = _page_text(client_in.get(url, {"answer": "not_a_digit", "digit": 1}))
    assert "No submissions match these filters" in text
    form = client_in.get(url).content.decode()
    assert '<option value="not_a_digit">Not a digit</option>' in form and "Model said" in form and "True answer" in form


def test_the_delete_confirmation_names_not_a_digit(client_in, user):
    confirmed = SubmissionFactory(user=user, refused=True, corrected_not_a_digit=True)
    to_none = SubmissionFactory(user=user, predicted_digit=7, corrected_not_a_digit=True)
    refused_to_two = SubmissionFactory(user=user, refused=True, corrected_digit=2)

    def summary(s) -> str:
        return _page_text(client_in.get(reverse("recognizer:submission-delete", args=[s.pk])))

    assert "Not a digit (confirmed)" in summary(confirmed)
    assert "Not a digit (corrected; the model read 7)" in summary(to_none)
    assert "A 2 (corrected; the model said not a digit)" in summary(refused_to_two)
