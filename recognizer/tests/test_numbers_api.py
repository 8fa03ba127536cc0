"""The numbers' API under /api/v1/numbers/: reading, listing, correcting, deleting, isolation and the schema."""

import io
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image

from recognizer.models import DigitSample, Submission
from recognizer.tests.conftest import number_png
from recognizer.tests.factories import ModelVersionFactory, NumberFactory, SubmissionFactory, UserFactory
from recognizer.tests.test_api import assert_error, b64, upload

NUMBERS = "/api/v1/numbers/"
BATCH = "/api/v1/numbers/batch/"
NUMBER_KEYS = {
    "id",
    "number",
    "confidence",
    "not_a_number",
    "reason",
    "digits",
    "model_version",
    "source",
    "created_at",
    "corrected_number",
    "segmentation_wrong",
    "corrected_at",
    "true_number",
    "is_corrected",
    "links",
}
DIGIT_KEYS = {
    "position",
    "digit",
    "confidence",
    "probabilities",
    "box",
    "refused",
    "corrected_digit",
    "true_digit",
    "input",
    "links",
}


@pytest.fixture
def number(user):
    """One of the user's numbers, "704", uncorrected."""
    return NumberFactory(user=user, predicted_number="704")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


# --------------------------------------------------------------------------- reading


class TestCreate:
    def test_a_multipart_image_answers_201_with_the_number_and_its_digits(
        self, token_client, user, shipped_version, number_704
    ):
        response = token_client.post(NUMBERS, {"image": upload(number_704, "n.png")}, format="multipart")

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == NUMBER_KEYS
        assert (body["number"], body["not_a_number"], body["reason"], body["source"]) == ("704", False, "", "api")
        assert 0.0 < body["confidence"] <= 1.0 and body["model_version"] == shipped_version.name
        assert (body["corrected_number"], body["true_number"], body["is_corrected"]) == (None, "704", False)
        assert [d["position"] for d in body["digits"]] == [0, 1, 2]
        assert [d["digit"] for d in body["digits"]] == [7, 0, 4]
        for digit in body["digits"]:
            assert set(digit) == DIGIT_KEYS
            assert len(digit["probabilities"]) == 10 and 0.0 < digit["confidence"] <= 1.0
            assert len(digit["box"]) == 4 and all(isinstance(v, int) for v in digit["box"])
            assert digit["input"] is None and digit["refused"] is False
        stored = Submission.objects.get(pk=body["id"])
        assert (stored.user, stored.kind, stored.source) == (user, "number", "api")

        # Each digit's 28x28 input, as a PNG, at its link.
        picture = token_client.get(body["digits"][1]["links"]["input_image"])
        assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
        assert Image.open(io.BytesIO(b"".join(picture.streaming_content))).size == (28, 28)
        assert token_client.get(body["links"]["image"]).status_code == 200
        assert token_client.get(body["links"]["preview"])["Content-Type"] == "image/webp"

    def test_base64_json_with_the_inputs(self, token_client, shipped_version):
        image = "data:image/png;base64," + b64(number_png("42"))
        response = token_client.post(f"{NUMBERS}?include=input", {"image": image, "source": "canvas"}, format="json")

        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["number"], body["source"]) == ("42", "canvas")
        for digit in body["digits"]:
            assert len(digit["input"]) == 28 and all(len(row) == 28 for row in digit["input"])
            assert max(max(row) for row in digit["input"]) > 0.5  # ink high
        assert token_client.get(f"{NUMBERS}{body['id']}/?include=input").json()["digits"] == body["digits"]

    def test_a_blank_image_is_422_and_nothing_is_stored(self, token_client, shipped_version, blank_canvas):
        error = assert_error(token_client.post(NUMBERS, {"image": b64(blank_canvas)}, format="json"), 422, "no_digit")
        assert error["details"]["reason"]
        assert not Submission.objects.exists()

    def test_not_a_number_is_201_and_stored(self, token_client, refusing_model, number_704):
        response = token_client.post(NUMBERS, {"image": b64(number_704)}, format="json")

        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["number"], body["confidence"], body["not_a_number"], body["true_number"]) == (
            None,
            None,
            True,
            None,
        )
        assert body["reason"] and all(digit["refused"] for digit in body["digits"])
        corrected = token_client.put(body["links"]["correction"], {"true_number": "704"}, format="json").json()
        assert (corrected["true_number"], corrected["not_a_number"]) == ("704", True)

    @pytest.mark.parametrize(
        ("payload", "status", "code"),
        [
            ({"image": "%%% not base64"}, 400, "invalid_image"),
            ({"image": b64(b"not an image")}, 400, "invalid_image"),
            ({"image": 42}, 400, "invalid"),
            ({}, 400, "invalid"),
            ({"image": b64(number_png("42")), "source": "fax"}, 400, "invalid"),
            ({"image": b64(number_png("42")), "replaces": 999999}, 409, "not_replaceable"),
        ],
    )
    def test_the_errors_of_predictions(self, token_client, shipped_version, payload, status, code):
        assert_error(token_client.post(NUMBERS, payload, format="json"), status, code)
        assert not Submission.objects.exists()

    def test_a_too_large_image_is_413(self, token_client, shipped_version, settings, number_704):
        settings.DIGITVISION_MAX_UPLOAD_BYTES = 100
        assert_error(token_client.post(NUMBERS, {"image": upload(number_704)}, format="multipart"), 413, "too_large")

    def test_replaces_an_earlier_drawing(self, token_client, user, shipped_version):
        first = token_client.post(NUMBERS, {"image": b64(number_png("74")), "source": "canvas"}, format="json").json()
        second = token_client.post(
            NUMBERS, {"image": b64(number_png("704")), "source": "canvas", "replaces": first["id"]}, format="json"
        )
        assert second.status_code == 201
        assert list(Submission.objects.values_list("pk", flat=True)) == [second.json()["id"]]

    def test_a_batch_answers_each_image(self, token_client, shipped_version, blank_canvas):
        images = [b64(number_png("42")), b64(blank_canvas), "data:image/png;base64," + b64(number_png("704"))]
        response = token_client.post(BATCH, {"images": images}, format="json")

        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["created"], body["failed"]) == (2, 1)
        assert [r["status"] for r in body["results"]] == [201, 422, 201]
        assert [r["index"] for r in body["results"]] == [0, 1, 2]
        assert [body["results"][i]["number"]["number"] for i in (0, 2)] == ["42", "704"]
        assert body["results"][1]["error"]["code"] == "no_digit"
        assert Submission.objects.numbers().count() == 2

    def test_a_multipart_batch(self, token_client, shipped_version, settings):
        files = [upload(number_png("42"), "a.png"), upload(number_png("74"), "b.png")]
        response = token_client.post(BATCH, {"images": files, "source": "upload"}, format="multipart")
        assert response.json()["created"] == 2
        assert set(Submission.objects.values_list("source", flat=True)) == {"upload"}
        settings.DIGITVISION_API_MAX_BATCH = 1
        assert_error(token_client.post(BATCH, {"images": [b64(number_png("4"))] * 2}, format="json"), 400, "invalid")


# --------------------------------------------------------------------------- listing and reading back


class TestList:
    def test_your_numbers_newest_first_and_never_digits(self, token_client, user):
        older = NumberFactory(user=user, created_at=timezone.now() - timedelta(hours=1))
        newer = NumberFactory(user=user)
        SubmissionFactory(user=user)  # a digit: listed under /predictions/ only
        NumberFactory()  # someone else's

        response = token_client.get(NUMBERS)

        assert ids(response) == [newer.pk, older.pk] and response.json()["count"] == 2
        assert [d["digit"] for d in response.json()["results"][0]["digits"]] == [4, 2]
        assert ids(token_client.get("/api/v1/predictions/")) == [Submission.objects.digits().get().pk]

    def test_pages(self, token_client, user):
        made = [NumberFactory(user=user) for _ in range(3)]
        page = token_client.get(NUMBERS, {"page_size": 2}).json()
        assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
        assert_error(token_client.get(NUMBERS, {"page_size": 0}), 400, "invalid")
        assert len(made) == 3

    def test_filters(self, token_client, user):
        version = ModelVersionFactory(name="digitnet-older")
        read = NumberFactory(user=user, predicted_number="42", confidence=0.95, source="upload")
        refused = NumberFactory(user=user, refused=True, digits="12", model_version=version)
        fixed = NumberFactory(user=user, predicted_number="17", confidence=0.4, corrected_number="71")
        wrong = NumberFactory(
            user=user,
            predicted_number="11",
            confidence=0.5,
            corrected_number="111",
            segmentation_wrong=True,
            created_at=timezone.now() - timedelta(days=2),
        )

        def listed(**query) -> set[int]:
            return set(ids(token_client.get(NUMBERS, query)))

        assert listed(answer="not_a_number") == {refused.pk}
        assert listed(answer="number") == {read.pk, fixed.pk, wrong.pk}
        assert listed(corrected="true") == {fixed.pk, wrong.pk}
        assert listed(corrected="false") == {read.pk, refused.pk}
        assert listed(segmentation_wrong="true") == {wrong.pk}
        assert listed(number="71") == {fixed.pk} and listed(number="17") == set() and listed(number="42") == {read.pk}
        assert listed(source="upload") == {read.pk}
        assert listed(model_version="digitnet-older") == {refused.pk}
        assert listed(min_confidence="0.9") == {read.pk} and listed(max_confidence="0.45") == {fixed.pk}
        yesterday = (timezone.now() - timedelta(days=1)).isoformat()
        assert listed(created_before=yesterday) == {wrong.pk}
        assert wrong.pk not in listed(created_after=yesterday)
        assert ids(token_client.get(NUMBERS, {"ordering": "confidence"}))[0] == refused.pk  # no confidence: least sure
        assert ids(token_client.get(NUMBERS, {"ordering": "created_at"}))[0] == wrong.pk
        for bad in ({"answer": "digit"}, {"corrected": "maybe"}, {"ordering": "number"}, {"source": "fax"}):
            assert_error(token_client.get(NUMBERS, bad), 400, "invalid")
        assert_error(token_client.get(f"{NUMBERS}?corrected=true&corrected=false"), 400, "invalid")

    def test_detail(self, token_client, number):
        body = token_client.get(f"{NUMBERS}{number.pk}/").json()
        assert (body["id"], body["number"], body["links"]["self"]) == (
            number.pk,
            "704",
            f"http://testserver{NUMBERS}{number.pk}/",
        )
        assert body["digits"][2]["box"] == [8 + 96, 8, 40, 48]
        assert_error(token_client.get(f"{NUMBERS}{number.pk}/digits/3/input-image/"), 404, "not_found")
        assert_error(token_client.get(f"{NUMBERS}{number.pk}/?include=everything"), 400, "invalid")

    def test_a_number_has_no_single_input_image(self, token_client, number):
        # The number's own input is empty (each digit has one): the page route answers 404, never 500.
        from django.test import Client

        client = Client()
        client.force_login(number.user)
        assert client.get(f"/submissions/{number.pk}/input/").status_code == 404
        assert client.get(f"/submissions/{number.pk}/preview/").status_code == 200


# --------------------------------------------------------------------------- correcting and deleting


class TestCorrection:
    def test_as_many_digits_corrects_each(self, token_client, number):
        response = token_client.put(f"{NUMBERS}{number.pk}/correction/", {"true_number": "701"}, format="json")

        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["corrected_number"], body["true_number"], body["segmentation_wrong"]) == ("701", "701", False)
        assert body["is_corrected"] and body["corrected_at"]
        assert [d["corrected_digit"] for d in body["digits"]] == [7, 0, 1]
        assert [d["true_digit"] for d in body["digits"]] == [7, 0, 1]

    def test_another_count_marks_the_segmentation_wrong(self, token_client, number):
        token_client.put(f"{NUMBERS}{number.pk}/correction/", {"true_number": "701"}, format="json")
        body = token_client.patch(f"{NUMBERS}{number.pk}/correction/", {"true_number": "2026"}, format="json").json()

        assert (body["true_number"], body["segmentation_wrong"]) == ("2026", True)
        assert [d["corrected_digit"] for d in body["digits"]] == [None, None, None]
        assert list(DigitSample.objects.values_list("corrected_digit", flat=True)) == [None, None, None]

    def test_one_digit(self, token_client, number):
        response = token_client.patch(
            f"{NUMBERS}{number.pk}/correction/", {"position": 1, "true_digit": 9}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["true_number"] == "794"
        assert [d["corrected_digit"] for d in response.json()["digits"]] == [7, 9, 4]

    def test_an_empty_patch_changes_nothing(self, token_client, number):
        body = token_client.patch(f"{NUMBERS}{number.pk}/correction/", {}, format="json").json()
        assert not body["is_corrected"]

    @pytest.mark.parametrize(
        ("method", "payload", "code"),
        [
            ("put", {}, "invalid"),
            ("put", {"true_number": "20a6"}, "invalid_number"),
            ("put", {"true_number": ""}, "invalid_number"),
            ("put", {"true_number": "1234567890123"}, "invalid_number"),
            ("put", {"true_number": 2026}, "invalid"),
            ("put", {"true_number": "2026", "position": 0, "true_digit": 1}, "invalid"),
            ("patch", {"position": 0}, "invalid"),
            ("patch", {"true_digit": 3}, "invalid"),
            ("patch", {"position": 5, "true_digit": 3}, "invalid_digit"),
            ("patch", {"position": 0, "true_digit": 10}, "invalid"),
        ],
    )
    def test_refused_corrections(self, token_client, number, method, payload, code):
        response = getattr(token_client, method)(f"{NUMBERS}{number.pk}/correction/", payload, format="json")
        assert_error(response, 400, code)
        number.refresh_from_db()
        assert not number.is_corrected

    def test_deleting_removes_the_number_and_its_files(
        self, token_client, user, shipped_version, number_704, media_root, django_capture_on_commit_callbacks
    ):
        created = token_client.post(NUMBERS, {"image": b64(number_704)}, format="json").json()
        with django_capture_on_commit_callbacks(execute=True):
            response = token_client.delete(f"{NUMBERS}{created['id']}/")
        assert response.status_code == 204
        assert not Submission.objects.exists() and not DigitSample.objects.exists()
        assert [p for p in media_root.rglob("*") if p.is_file()] == []
        assert_error(token_client.get(f"{NUMBERS}{created['id']}/"), 404, "not_found")


# --------------------------------------------------------------------------- who may see what


class TestIsolation:
    @pytest.mark.parametrize(
        ("method", "path", "payload"),
        [
            ("get", "", None),
            ("delete", "", None),
            ("put", "correction/", {"true_number": "12"}),
            ("patch", "correction/", {"position": 0, "true_digit": 1}),
            ("get", "image/", None),
            ("get", "preview/", None),
            ("get", "digits/0/input-image/", None),
        ],
    )
    def test_another_persons_number_is_404_like_none(self, token_client, method, path, payload):
        theirs = NumberFactory(user=UserFactory(username="someone-else"))
        response = getattr(token_client, method)(f"{NUMBERS}{theirs.pk}/{path}", payload, format="json")
        assert_error(response, 404, "not_found")
        missing = getattr(token_client, method)(f"{NUMBERS}999999/{path}", payload, format="json")
        assert missing.json()["error"]["message"] == response.json()["error"]["message"]
        theirs.refresh_from_db()
        assert not theirs.is_corrected

    def test_a_digit_is_not_a_number_nor_a_number_a_digit(self, token_client, user, number):
        digit = SubmissionFactory(user=user)
        assert_error(token_client.get(f"{NUMBERS}{digit.pk}/"), 404, "not_found")
        assert_error(token_client.get(f"/api/v1/predictions/{number.pk}/"), 404, "not_found")
        assert_error(
            token_client.patch(f"/api/v1/predictions/{number.pk}/correction/", {"true_digit": 1}), 404, "not_found"
        )

    def test_staff_see_only_their_own_numbers_here(self, staff_api, number):
        assert_error(staff_api.get(f"{NUMBERS}{number.pk}/"), 404, "not_found")

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("get", NUMBERS),
            ("post", NUMBERS),
            ("post", BATCH),
            ("get", f"{NUMBERS}1/"),
            ("put", f"{NUMBERS}1/correction/"),
        ],
    )
    def test_unauthenticated_is_401(self, api_client, db, method, path):
        response = getattr(api_client, method)(path, {}, format="json")
        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"].startswith("Token")

    def test_a_session_write_needs_its_csrf_token(self, user, number):
        from rest_framework.test import APIClient

        client = APIClient(enforce_csrf_checks=True)
        client.force_login(user)
        response = client.put(f"{NUMBERS}{number.pk}/correction/", {"true_number": "12"}, format="json")
        assert_error(response, 403, "permission_denied")

    def test_throttled_like_predictions(self, token_client, user, settings):
        settings.DIGITVISION_API_THROTTLE_RATES = {**settings.DIGITVISION_API_THROTTLE_RATES, "user": "2/minute"}
        assert [token_client.get(NUMBERS).status_code for _ in range(2)] == [200, 200]
        error = assert_error(token_client.get(NUMBERS), 429, "throttled")
        assert error["details"]["retry_after"]


# --------------------------------------------------------------------------- the schema


class TestSchema:
    @pytest.fixture
    def schema(self, api_client, db) -> dict:
        response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        return json.loads(response.content)

    def test_every_numbers_endpoint_is_documented_with_examples(self, schema):
        paths = schema["paths"]
        assert {
            "/api/v1/numbers/",
            "/api/v1/numbers/batch/",
            "/api/v1/numbers/{id}/",
            "/api/v1/numbers/{id}/correction/",
            "/api/v1/numbers/{id}/image/",
            "/api/v1/numbers/{id}/preview/",
            "/api/v1/numbers/{id}/digits/{position}/input-image/",
        } <= set(paths)
        assert {"get", "post"} <= set(paths["/api/v1/numbers/"])
        assert {"get", "delete"} <= set(paths["/api/v1/numbers/{id}/"])
        assert {"put", "patch"} <= set(paths["/api/v1/numbers/{id}/correction/"])
        create = paths["/api/v1/numbers/"]["post"]
        assert {"multipart/form-data", "application/json"} <= set(create["requestBody"]["content"])
        assert {"201", "400", "401", "409", "413", "415", "422", "429", "503"} <= set(create["responses"])
        examples = create["responses"]["201"]["content"]["application/json"]["examples"]
        assert {example["value"]["not_a_number"] for example in examples.values()} == {False, True}
        correction = paths["/api/v1/numbers/{id}/correction/"]["put"]
        assert correction["requestBody"]["content"]["application/json"]["examples"]
        assert paths["/api/v1/numbers/batch/"]["post"]["responses"]["200"]["content"]["application/json"]["examples"]
        image = paths["/api/v1/numbers/{id}/digits/{position}/input-image/"]["get"]
        assert "image/png" in image["responses"]["200"]["content"]

    def test_the_shapes(self, schema):
        components = schema["components"]["schemas"]
        number = components["Number"]["properties"]
        for nullable in ("number", "confidence", "corrected_number", "true_number"):
            assert number[nullable]["nullable"] is True, nullable
        assert number["number"]["pattern"] == "^[0-9]{1,12}$"
        digit = components["NumberDigit"]["properties"]
        assert (digit["box"]["minItems"], digit["box"]["maxItems"]) == (4, 4)
        body = components["NumberCorrectionRequest"]["properties"]
        assert set(body) == {"true_number", "position", "true_digit"}
        parameters = {p["name"] for p in schema["paths"]["/api/v1/numbers/"]["get"]["parameters"]}
        assert {
            "answer",
            "corrected",
            "segmentation_wrong",
            "number",
            "source",
            "model_version",
            "ordering",
        } <= parameters

    def test_the_example_image_reads_as_its_number(self, token_client, shipped_version):
        from recognizer.api import docs

        response = token_client.post(NUMBERS, {"image": docs.FORTY_TWO_PNG_BASE64}, format="json")
        assert response.json()["number"] == "42"
