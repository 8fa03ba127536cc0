"""The REST API under /api/v1/: every endpoint, every error status, isolation between people, throttling."""

import base64
import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recognizer.models import Submission
from recognizer.selectors import submission_corrections_for_training
from recognizer.tests.factories import ModelVersionFactory, SubmissionFactory, UserFactory

PREDICTIONS = "/api/v1/predictions/"
BATCH = "/api/v1/predictions/batch/"


def assert_error(response, status: int, code: str) -> dict:
    """The one error shape, with the expected status and code."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def upload(data: bytes, name: str = "digit.png") -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def stored_files(media_root) -> list:
    return [p for p in media_root.rglob("*") if p.is_file()]


@pytest.fixture
def other_user(db):
    return UserFactory(username="someone-else")


@pytest.fixture
def others_submission(other_user):
    return SubmissionFactory(user=other_user)


# --------------------------------------------------------------------------- authentication


class TestToken:
    def test_password_gives_a_token_that_authenticates(self, api_client, user, shipped_version):
        response = api_client.post(
            "/api/v1/auth/token/", {"username": user.username, "password": "correct horse battery staple"}
        )
        assert response.status_code == 200
        token = response.json()["token"]
        assert Token.objects.get(user=user).key == token
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api_client.get(PREDICTIONS).status_code == 200

    def test_same_token_on_every_request(self, api_client, user):
        body = {"username": user.username, "password": "correct horse battery staple"}
        assert (
            api_client.post("/api/v1/auth/token/", body).json() == api_client.post("/api/v1/auth/token/", body).json()
        )

    def test_wrong_password_is_400_and_no_token(self, api_client, user):
        response = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "nope"})
        assert_error(response, 400, "invalid")
        assert not Token.objects.exists()

    def test_missing_fields_are_named(self, api_client, db):
        error = assert_error(api_client.post("/api/v1/auth/token/", {}), 400, "invalid")
        assert set(error["details"]) == {"username", "password"}

    def test_delete_revokes_the_token(self, token_client):
        assert token_client.delete("/api/v1/auth/token/").status_code == 204
        assert_error(token_client.get(PREDICTIONS), 401, "authentication_failed")

    def test_no_credentials_is_401_with_a_challenge(self, api_client, db):
        response = api_client.get(PREDICTIONS)
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == "Token"

    def test_bad_token_is_401(self, api_client, db):
        api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
        assert_error(api_client.get(PREDICTIONS), 401, "authentication_failed")

    def test_session_auth_works(self, user, shipped_version):
        client = APIClient()
        client.force_login(user)
        assert client.get(PREDICTIONS).status_code == 200

    def test_session_writes_need_csrf(self, user, shipped_version, canvas_one):
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(user)
        response = client.post(PREDICTIONS, {"image": upload(canvas_one)}, format="multipart")
        assert_error(response, 403, "permission_denied")
        assert not Submission.objects.exists()


# --------------------------------------------------------------------------- predicting


class TestPredict:
    def test_multipart_upload(self, token_client, user, shipped_version, canvas_seven, media_root):
        response = token_client.post(PREDICTIONS, {"image": upload(canvas_seven)}, format="multipart")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["digit"] == 7
        assert 0.5 < body["confidence"] <= 1
        assert len(body["probabilities"]) == 10
        assert sum(body["probabilities"]) == pytest.approx(1, abs=1e-4)
        assert body["model_version"] == shipped_version.name
        assert body["source"] == "api"
        assert body["input"] is None  # only on request
        submission = Submission.objects.get(pk=body["id"])
        assert submission.user == user
        assert submission.image.read() == canvas_seven
        assert body["links"]["self"].endswith(f"{PREDICTIONS}{submission.pk}/")
        assert body["links"]["preview"].endswith(f"{PREDICTIONS}{submission.pk}/preview/")
        assert len(stored_files(media_root)) == 2

    def test_base64_json_and_data_url(self, token_client, shipped_version, canvas_one):
        plain = token_client.post(PREDICTIONS, {"image": b64(canvas_one)}, format="json")
        data_url = token_client.post(
            PREDICTIONS, {"image": "data:image/png;base64," + b64(canvas_one), "source": "canvas"}, format="json"
        )
        assert plain.status_code == data_url.status_code == 201
        assert plain.json()["digit"] == data_url.json()["digit"] == 1
        assert Submission.objects.get(pk=data_url.json()["id"]).source == "canvas"

    def test_input_on_request(self, token_client, shipped_version, canvas_one):
        body = token_client.post(f"{PREDICTIONS}?include=input", {"image": b64(canvas_one)}, format="json").json()
        assert len(body["input"]) == 28 and all(len(row) == 28 for row in body["input"])
        pixels = [p for row in body["input"] for p in row]
        assert min(pixels) == 0.0 and max(pixels) > 0.9  # ink high on a black background, like MNIST
        assert token_client.get(f"{PREDICTIONS}{body['id']}/?include=input").json()["input"] == body["input"]

    def test_blank_image_is_422_and_stores_nothing(self, token_client, shipped_version, blank_canvas, media_root):
        assert_error(
            token_client.post(PREDICTIONS, {"image": upload(blank_canvas)}, format="multipart"), 422, "no_digit"
        )
        assert not Submission.objects.exists()
        assert stored_files(media_root) == []

    @pytest.mark.parametrize(
        "payload",
        [{"image": b64(b"this is not an image")}, {"image": "@@not base64@@"}, {"image": ""}],
        ids=["not-an-image", "not-base64", "empty"],
    )
    def test_unreadable_image_is_400(self, token_client, shipped_version, payload, media_root):
        error = assert_error(token_client.post(PREDICTIONS, payload, format="json"), 400, "invalid_image")
        assert error["message"]
        assert not Submission.objects.exists() and stored_files(media_root) == []

    def test_missing_image_is_400_naming_the_field(self, token_client, shipped_version):
        error = assert_error(token_client.post(PREDICTIONS, {}, format="json"), 400, "invalid")
        assert "image" in error["details"]

    def test_image_of_wrong_type_is_400(self, token_client, shipped_version):
        error = assert_error(token_client.post(PREDICTIONS, {"image": 12}, format="json"), 400, "invalid")
        assert "image" in error["details"]

    def test_unknown_source_is_400(self, token_client, shipped_version, canvas_one):
        error = assert_error(
            token_client.post(PREDICTIONS, {"image": b64(canvas_one), "source": "fax"}, format="json"), 400, "invalid"
        )
        assert "source" in error["details"]

    def test_file_over_the_limit_is_413(self, token_client, shipped_version, canvas_one, settings, media_root):
        settings.DIGITVISION_MAX_UPLOAD_BYTES = len(canvas_one) - 1
        assert_error(
            token_client.post(PREDICTIONS, {"image": upload(canvas_one)}, format="multipart"), 413, "too_large"
        )
        assert_error(token_client.post(PREDICTIONS, {"image": b64(canvas_one)}, format="json"), 413, "too_large")
        assert not Submission.objects.exists() and stored_files(media_root) == []

    def test_body_over_djangos_cap_is_413(self, token_client, shipped_version, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
        response = token_client.post(PREDICTIONS, {"image": "A" * 5000}, format="json")
        assert_error(response, 413, "request_too_large")
        assert not Submission.objects.exists()

    def test_body_that_is_neither_json_nor_multipart_is_415(self, token_client, shipped_version):
        response = token_client.generic("POST", PREDICTIONS, "hello", content_type="text/plain")
        assert_error(response, 415, "unsupported_media_type")

    def test_malformed_json_is_400(self, token_client, shipped_version):
        response = token_client.generic("POST", PREDICTIONS, '{"image": ', content_type="application/json")
        assert_error(response, 400, "parse_error")

    def test_replaces_deletes_the_earlier_prediction_of_a_drawing(
        self, token_client, shipped_version, canvas_one, canvas_seven, media_root, django_capture_on_commit_callbacks
    ):
        first = token_client.post(PREDICTIONS, {"image": b64(canvas_one), "source": "canvas"}, format="json").json()
        with django_capture_on_commit_callbacks(execute=True):
            second = token_client.post(
                PREDICTIONS, {"image": b64(canvas_seven), "replaces": first["id"]}, format="json"
            )
        assert second.status_code == 201, second.content
        assert list(Submission.objects.values_list("pk", flat=True)) == [second.json()["id"]]
        with django_capture_on_commit_callbacks(execute=True):
            third = token_client.post(
                PREDICTIONS, {"image": upload(canvas_one), "replaces": str(second.json()["id"])}, format="multipart"
            )
        assert list(Submission.objects.values_list("pk", flat=True)) == [third.json()["id"]]
        assert len(stored_files(media_root)) == 2

    def test_replaces_refuses_what_is_not_yours_to_replace(
        self, token_client, user, shipped_version, canvas_one, others_submission, media_root
    ):
        corrected = SubmissionFactory(user=user, corrected_digit=2)
        before = stored_files(media_root)
        for replaces in (corrected.pk, others_submission.pk, 999_999):
            response = token_client.post(PREDICTIONS, {"image": b64(canvas_one), "replaces": replaces}, format="json")
            assert_error(response, 409, "not_replaceable")
        for replaces in ("seven", 0, -3):
            response = token_client.post(PREDICTIONS, {"image": b64(canvas_one), "replaces": replaces}, format="json")
            assert "replaces" in assert_error(response, 400, "invalid")["details"]
        assert Submission.objects.count() == 2 and stored_files(media_root) == before

    def test_an_undocumented_format_is_415(self, token_client, shipped_version, digit_png, media_root):
        buffer = io.BytesIO()
        Image.open(digit_png).save(buffer, format="TGA")
        error = assert_error(
            token_client.post(PREDICTIONS, {"image": b64(buffer.getvalue())}, format="json"), 415, "unsupported_format"
        )
        assert error["details"] == {"format": "TGA"}
        assert not Submission.objects.exists() and stored_files(media_root) == []

    def test_no_active_model_is_503(self, token_client, db, canvas_one):
        ModelVersionFactory(is_active=False)
        assert_error(
            token_client.post(PREDICTIONS, {"image": b64(canvas_one)}, format="json"), 503, "model_unavailable"
        )


class TestBatch:
    def test_a_result_or_an_error_per_image(
        self, token_client, shipped_version, canvas_one, canvas_seven, blank_canvas
    ):
        images = [b64(canvas_one), b64(blank_canvas), "***", b64(canvas_seven)]
        response = token_client.post(BATCH, {"images": images}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["created"], body["failed"]) == (2, 2)
        assert [r["status"] for r in body["results"]] == [201, 422, 400, 201]
        assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
        assert body["results"][0]["prediction"]["digit"] == 1
        assert body["results"][3]["prediction"]["digit"] == 7
        assert body["results"][1]["error"]["code"] == "no_digit"
        assert body["results"][2]["error"]["code"] == "invalid_image"
        assert Submission.objects.count() == 2

    def test_multipart_with_repeated_field(self, token_client, shipped_version, canvas_one, canvas_seven):
        response = token_client.post(
            BATCH, {"images": [upload(canvas_one, "a.png"), upload(canvas_seven, "b.png")]}, format="multipart"
        )
        assert response.status_code == 200, response.content
        assert [r["prediction"]["digit"] for r in response.json()["results"]] == [1, 7]

    def test_more_than_the_limit_is_refused_whole(self, token_client, shipped_version, canvas_one, settings):
        settings.DIGITVISION_API_MAX_BATCH = 2
        error = assert_error(token_client.post(BATCH, {"images": [b64(canvas_one)] * 3}, format="json"), 400, "invalid")
        assert "images" in error["details"]
        assert not Submission.objects.exists()

    @pytest.mark.parametrize("payload", [{}, {"images": []}, {"images": "abc"}], ids=["missing", "empty", "not-a-list"])
    def test_bad_batch_is_400(self, token_client, shipped_version, payload):
        assert_error(token_client.post(BATCH, payload, format="json"), 400, "invalid")


# --------------------------------------------------------------------------- reading, deleting, correcting


class TestList:
    def test_own_predictions_newest_first_paginated(self, token_client, user, other_user):
        mine = [SubmissionFactory(user=user) for _ in range(25)]
        SubmissionFactory(user=other_user)
        first = token_client.get(PREDICTIONS).json()
        assert first["count"] == 25
        assert [r["id"] for r in first["results"]] == [s.pk for s in reversed(mine)][:20]
        second = token_client.get(first["next"]).json()
        assert len(second["results"]) == 5 and second["next"] is None
        assert len(token_client.get(f"{PREDICTIONS}?page_size=100").json()["results"]) == 25

    def test_filters(self, token_client, user):
        now = timezone.now()
        old = SubmissionFactory(user=user, predicted_digit=3, confidence=0.4, created_at=now - timedelta(days=3))
        fixed = SubmissionFactory(user=user, predicted_digit=3, confidence=0.95, corrected_digit=5)
        sure = SubmissionFactory(user=user, predicted_digit=5, confidence=0.99)

        def ids(query: str) -> list[int]:
            response = token_client.get(f"{PREDICTIONS}?{query}")
            assert response.status_code == 200, response.content
            return [r["id"] for r in response.json()["results"]]

        assert ids("digit=5") == [sure.pk, fixed.pk]  # the true digit: the correction counts
        assert ids("digit=3") == [old.pk]
        assert ids("corrected=true") == [fixed.pk]
        assert ids("corrected=false") == [sure.pk, old.pk]
        assert ids("min_confidence=0.9&max_confidence=0.96") == [fixed.pk]
        assert ids(f"created_before={(now - timedelta(days=1)).date().isoformat()}") == [old.pk]
        assert ids(f"created_after={(now - timedelta(hours=1)).isoformat().replace('+00:00', 'Z')}") == [
            sure.pk,
            fixed.pk,
        ]
        assert ids("ordering=confidence") == [old.pk, fixed.pk, sure.pk]

    @pytest.mark.parametrize(
        "query",
        [
            "digit=10",
            "corrected=maybe",
            "min_confidence=high",
            "created_after=yesterday",
            "ordering=user",
            # One value each: a list would have meant its last value only, silently.
            "ordering=confidence,created_at",
            "ordering=confidence&ordering=-created_at",
            "digit=1&digit=2",
        ],
    )
    def test_bad_filter_is_400(self, token_client, user, query):
        assert_error(token_client.get(f"{PREDICTIONS}?{query}"), 400, "invalid")

    def test_detail(self, token_client, user):
        submission = SubmissionFactory(user=user, predicted_digit=4)
        body = token_client.get(f"{PREDICTIONS}{submission.pk}/").json()
        assert (body["id"], body["digit"], body["model_version"]) == (submission.pk, 4, submission.model_version.name)


class TestIsolation:
    """Another person's prediction answers exactly like one that does not exist."""

    @pytest.mark.parametrize(
        "method, suffix, payload",
        [
            ("get", "", None),
            ("delete", "", None),
            ("put", "correction/", {"true_digit": 1}),
            ("patch", "correction/", {"true_digit": 1}),
            ("get", "image/", None),
            ("get", "input-image/", None),
            ("get", "preview/", None),
        ],
    )
    def test_others_submission_is_404_like_a_missing_one(
        self, token_client, others_submission, method, suffix, payload
    ):
        url = f"{PREDICTIONS}{others_submission.pk}/{suffix}"
        missing = f"{PREDICTIONS}{others_submission.pk + 1000}/{suffix}"
        theirs = getattr(token_client, method)(url, payload, format="json")
        nothing = getattr(token_client, method)(missing, payload, format="json")
        assert assert_error(theirs, 404, "not_found") == assert_error(nothing, 404, "not_found")
        others_submission.refresh_from_db()
        assert others_submission.corrected_digit is None

    def test_list_never_shows_others(self, token_client, others_submission):
        assert token_client.get(PREDICTIONS).json()["count"] == 0


class TestDelete:
    def test_removes_row_and_files(self, token_client, user, django_capture_on_commit_callbacks, media_root):
        submission = SubmissionFactory(user=user)
        files = stored_files(media_root)
        assert len(files) == 2
        with django_capture_on_commit_callbacks(execute=True):
            response = token_client.delete(f"{PREDICTIONS}{submission.pk}/")
        assert response.status_code == 204
        assert not Submission.objects.filter(pk=submission.pk).exists()
        assert stored_files(media_root) == []


class TestCorrection:
    @pytest.mark.parametrize("method", ["put", "patch"])
    def test_correct_and_confirm(self, token_client, user, method):
        submission = SubmissionFactory(user=user, predicted_digit=7)
        url = f"{PREDICTIONS}{submission.pk}/correction/"
        body = getattr(token_client, method)(url, {"true_digit": 1}, format="json").json()
        assert (body["corrected_digit"], body["true_digit"], body["is_corrected"]) == (1, 1, True)
        confirmed = getattr(token_client, method)(url, {"true_digit": 7}, format="json").json()
        assert (confirmed["digit"], confirmed["true_digit"]) == (7, 7)
        submission.refresh_from_db()
        assert submission.corrected_digit == 7 and submission.corrected_by == user

    @pytest.mark.parametrize("payload", [{}, {"true_digit": 10}, {"true_digit": -1}, {"true_digit": "seven"}])
    def test_invalid_digit_is_400_and_changes_nothing(self, token_client, user, payload):
        submission = SubmissionFactory(user=user)
        response = token_client.put(f"{PREDICTIONS}{submission.pk}/correction/", payload, format="json")
        assert "true_digit" in assert_error(response, 400, "invalid")["details"]
        submission.refresh_from_db()
        assert submission.corrected_digit is None


class TestImages:
    def test_original_and_input(self, token_client, user):
        submission = SubmissionFactory(user=user)
        original = token_client.get(f"{PREDICTIONS}{submission.pk}/image/", HTTP_ACCEPT="image/png")
        assert original.status_code == 200 and original["Content-Type"] == "image/png"
        assert b"".join(original.streaming_content) == submission.image.read()
        model_input = token_client.get(f"{PREDICTIONS}{submission.pk}/input-image/")
        assert Image.open(io.BytesIO(b"".join(model_input.streaming_content))).size == (28, 28)
        preview = token_client.get(f"{PREDICTIONS}{submission.pk}/preview/", HTTP_ACCEPT="image/*")
        assert preview.status_code == 200 and preview["Content-Type"] == "image/webp"
        # The factory's original is 64 px: a preview is never enlarged.
        assert Image.open(io.BytesIO(b"".join(preview.streaming_content))).size == (64, 64)


# --------------------------------------------------------------------------- models


class TestModels:
    def test_versions_with_metrics_and_the_active_one(self, token_client, shipped_version):
        older = ModelVersionFactory(created_at=timezone.now() - timedelta(days=1), metrics={"test_accuracy": 0.99})
        body = token_client.get("/api/v1/models/").json()
        assert [(v["name"], v["is_active"]) for v in body["results"]] == [
            (shipped_version.name, True),
            (older.name, False),
        ]
        # the shipped model's own figure, as metrics.json records it
        assert body["results"][0]["metrics"]["test_accuracy"] == pytest.approx(shipped_version.metrics["test_accuracy"])
        assert "history" not in body["results"][0]["metrics"]  # the list stays small

    def test_detail_has_the_whole_report(self, token_client, shipped_version):
        body = token_client.get(f"/api/v1/models/{shipped_version.pk}/").json()
        assert body["sha256"] == shipped_version.sha256
        assert "report" in body["metrics"]

    def test_missing_version_is_404(self, token_client, db):
        assert_error(token_client.get("/api/v1/models/999/"), 404, "not_found")

    def test_read_only(self, token_client, shipped_version):
        assert_error(token_client.delete(f"/api/v1/models/{shipped_version.pk}/"), 405, "method_not_allowed")


# --------------------------------------------------------------------------- errors everywhere, throttling, docs


class TestAccountDelete:
    URL = "/api/v1/account/delete/"

    def test_the_right_password_deletes_the_account_and_all_it_sent(
        self, token_client, user, media_root, django_capture_on_commit_callbacks
    ):
        submission = SubmissionFactory(user=user)
        assert_error(token_client.post(self.URL, {"password": "not it"}, format="json"), 400, "invalid")
        assert Submission.objects.filter(pk=submission.pk).exists()

        with django_capture_on_commit_callbacks(execute=True):
            response = token_client.post(self.URL, {"password": "correct horse battery staple"}, format="json")

        assert response.status_code == 204
        assert not Submission.objects.exists() and not Token.objects.exists()
        assert stored_files(media_root) == []
        assert_error(token_client.get(PREDICTIONS), 401, "authentication_failed")  # the token went too

    def test_anonymous_get_401(self, api_client, db):
        assert_error(api_client.post(self.URL, {"password": "x"}, format="json"), 401, "not_authenticated")


class TestCorrectionsForStaff:
    """Staff curate everyone's corrections through the API as on the Corrections page."""

    CORRECTIONS = "/api/v1/corrections/"

    @pytest.fixture
    def corrections(self, other_user):
        changed = SubmissionFactory(user=other_user, predicted_digit=7, corrected_digit=1, corrected_by=other_user)
        confirmed = SubmissionFactory(user=other_user, predicted_digit=3, corrected_digit=3)
        SubmissionFactory(user=other_user)  # not corrected: not listed
        return changed, confirmed

    def test_lists_and_filters_everyones_corrections(self, staff_api, corrections):
        changed, confirmed = corrections
        body = staff_api.get(self.CORRECTIONS).json()
        assert body["count"] == 2 and [c["id"] for c in body["results"]] == [confirmed.pk, changed.pk]  # newest first
        listed = {c["id"]: c for c in body["results"]}[changed.pk]
        assert listed["person"] == changed.user.username and listed["predicted_digit"] == 7
        assert listed["corrected_digit"] == 1 and listed["excluded_from_training"] is False
        assert listed["preview"].endswith(f"{self.CORRECTIONS}{changed.pk}/preview/")  # one staff may fetch
        only_changed = staff_api.get(self.CORRECTIONS, {"state": "changed"}).json()["results"]
        assert [c["id"] for c in only_changed] == [changed.pk]
        assert [c["id"] for c in staff_api.get(self.CORRECTIONS, {"digit": 3}).json()["results"]] == [confirmed.pk]
        assert_error(staff_api.get(self.CORRECTIONS, {"state": "maybe"}), 400, "invalid")

    def test_leave_out_use_again_and_set_the_digit(self, staff_api, staff, corrections):
        changed, confirmed = corrections
        url = f"{self.CORRECTIONS}{changed.pk}/"

        left_out = staff_api.patch(url, {"excluded_from_training": True}, format="json")

        assert left_out.status_code == 200 and left_out.json()["excluded_from_training"] is True
        assert list(submission_corrections_for_training().values_list("pk", flat=True)) == [confirmed.pk]
        fixed = staff_api.patch(url, {"corrected_digit": 4, "excluded_from_training": False}, format="json").json()
        assert fixed["corrected_digit"] == 4 and fixed["corrected_by"] == staff.username
        assert fixed["excluded_from_training"] is False
        assert_error(staff_api.patch(url, {"corrected_digit": 10}, format="json"), 400, "invalid")
        changed.refresh_from_db()
        assert changed.corrected_digit == 4 and not changed.excluded_from_training

    def test_an_uncorrected_prediction_is_not_a_correction(self, staff_api, other_user):
        unchecked = SubmissionFactory(user=other_user)
        response = staff_api.patch(f"{self.CORRECTIONS}{unchecked.pk}/", {"excluded_from_training": True})
        assert_error(response, 404, "not_found")

    def test_people_who_are_not_staff_get_403(self, token_client, corrections):
        changed, _ = corrections
        assert_error(token_client.get(self.CORRECTIONS), 403, "permission_denied")
        refused = token_client.patch(f"{self.CORRECTIONS}{changed.pk}/", {"excluded_from_training": True})
        assert_error(refused, 403, "permission_denied")
        changed.refresh_from_db()
        assert not changed.excluded_from_training


def test_unknown_api_url_is_a_json_404(token_client, db):
    assert_error(token_client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert_error(token_client.get("/api/v2/predictions/"), 404, "not_found")


def test_wrong_method_is_405(token_client, db):
    assert_error(token_client.put(PREDICTIONS, {}, format="json"), 405, "method_not_allowed")


class TestThrottling:
    def test_per_user_rate(self, token_client, user, settings):
        settings.DIGITVISION_API_THROTTLE_RATES = {**settings.DIGITVISION_API_THROTTLE_RATES, "user": "3/minute"}
        assert [token_client.get(PREDICTIONS).status_code for _ in range(3)] == [200, 200, 200]
        error = assert_error(token_client.get(PREDICTIONS), 429, "throttled")
        assert 0 < error["details"]["retry_after"] <= 60
        other = APIClient()
        other.force_authenticate(UserFactory(username="fresh"))
        assert other.get(PREDICTIONS).status_code == 200  # counted per person

    def test_per_anonymous_ip(self, api_client, db, settings):
        # Anonymous clients only get past authentication on open endpoints: the schema here.
        settings.DIGITVISION_API_THROTTLE_RATES = {**settings.DIGITVISION_API_THROTTLE_RATES, "anon": "2/minute"}
        assert [api_client.get("/api/schema/").status_code for _ in range(2)] == [200, 200]
        throttled = api_client.get("/api/schema/", HTTP_ACCEPT="application/json")
        assert throttled.status_code == 429
        assert json.loads(throttled.content)["error"]["code"] == "throttled"
        assert APIClient(REMOTE_ADDR="10.0.0.7").get("/api/schema/").status_code == 200  # another address

    def test_token_requests_are_limited(self, api_client, user, settings):
        settings.DIGITVISION_API_THROTTLE_RATES = {**settings.DIGITVISION_API_THROTTLE_RATES, "auth": "2/minute"}
        for _ in range(2):
            api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "guess"})
        response = api_client.post(
            "/api/v1/auth/token/", {"username": user.username, "password": "correct horse battery staple"}
        )
        assert_error(response, 429, "throttled")


class TestDocs:
    def test_schema_is_openapi_3_with_every_endpoint(self, api_client, db):
        response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert response.status_code == 200
        schema = response.json()
        assert schema["openapi"].startswith("3.")
        assert {
            "/api/v1/auth/token/",
            "/api/v1/predictions/",
            "/api/v1/predictions/batch/",
            "/api/v1/predictions/{id}/",
            "/api/v1/predictions/{id}/correction/",
            "/api/v1/models/",
        } <= set(schema["paths"])
        create = schema["paths"]["/api/v1/predictions/"]["post"]
        assert {"multipart/form-data", "application/json"} <= set(create["requestBody"]["content"])
        assert {"201", "400", "401", "409", "413", "415", "422", "429"} <= set(create["responses"])
        assert create["responses"]["201"]["content"]["application/json"]["examples"]
        for body in create["requestBody"]["content"].values():  # `replaces`, documented for both body types
            ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
            replaces = schema["components"]["schemas"][ref]["properties"]["replaces"]
            assert replaces["type"] == "integer" and "not_replaceable" in replaces["description"]

    def test_docs_page_needs_no_cdn(self, api_client, db):
        response = api_client.get("/api/docs/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "swagger-ui" in page and "cdn" not in page.lower()
