"""The API's third answer, not a digit: the 201 shape, corrections both ways, the filters and the schema."""

import pytest

from recognizer.models import Submission
from recognizer.tests.factories import SubmissionFactory, UserFactory
from recognizer.tests.test_api import BATCH, PREDICTIONS, assert_error, b64, stored_files, upload

CORRECTIONS = "/api/v1/corrections/"


@pytest.fixture
def others_submission(db):
    return SubmissionFactory(user=UserFactory(username="someone-else"), refused=True)


class TestPredict:
    def test_not_a_digit_is_201_stored_with_null_digit(
        self, token_client, user, refusing_model, canvas_seven, media_root
    ):
        response = token_client.post(PREDICTIONS, {"image": upload(canvas_seven)}, format="multipart")

        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["digit"], body["confidence"], body["not_a_digit"]) == (None, None, True)
        assert body["reason"] == "not a digit"
        assert len(body["probabilities"]) == 10
        assert body["closest_digit"] == body["probabilities"].index(max(body["probabilities"]))
        assert body["closest_probability"] == max(body["probabilities"])
        assert (body["true_digit"], body["true_not_a_digit"], body["is_corrected"]) == (None, True, False)
        assert body["corrected_not_a_digit"] is False and body["model_version"] == refusing_model.name
        submission = Submission.objects.get(pk=body["id"])
        assert submission.user == user and submission.not_a_digit
        assert len(stored_files(media_root)) == 2  # the original and the 28x28 input, to correct and retrain on

    def test_a_digit_says_it_is_one(self, token_client, shipped_version, canvas_seven):
        body = token_client.post(PREDICTIONS, {"image": b64(canvas_seven)}, format="json").json()
        assert (body["digit"], body["not_a_digit"], body["reason"]) == (7, False, "")
        assert (body["closest_digit"], body["closest_probability"]) == (body["digit"], body["confidence"])
        assert (body["true_digit"], body["true_not_a_digit"]) == (7, False)

    def test_blank_is_still_422(self, token_client, refusing_model, blank_canvas):
        assert_error(token_client.post(PREDICTIONS, {"image": b64(blank_canvas)}, format="json"), 422, "no_digit")
        assert not Submission.objects.exists()

    def test_batch_stores_not_a_digit_as_a_201(self, token_client, refusing_model, canvas_one, blank_canvas):
        body = token_client.post(BATCH, {"images": [b64(canvas_one), b64(blank_canvas)]}, format="json").json()
        assert (body["created"], body["failed"]) == (1, 1)
        assert [r["status"] for r in body["results"]] == [201, 422]
        assert body["results"][0]["prediction"]["not_a_digit"] is True
        assert body["results"][0]["prediction"]["digit"] is None


class TestCorrection:
    @pytest.mark.parametrize("method", ["put", "patch"])
    def test_a_digit_corrected_to_not_a_digit_and_back(self, token_client, user, method):
        submission = SubmissionFactory(user=user, predicted_digit=7)
        url = f"{PREDICTIONS}{submission.pk}/correction/"

        body = getattr(token_client, method)(url, {"not_a_digit": True}, format="json").json()

        assert (body["digit"], body["corrected_digit"], body["corrected_not_a_digit"]) == (7, None, True)
        assert (body["true_digit"], body["true_not_a_digit"], body["is_corrected"]) == (None, True, True)
        back = getattr(token_client, method)(url, {"true_digit": 7}, format="json").json()
        assert (back["corrected_digit"], back["corrected_not_a_digit"], back["true_not_a_digit"]) == (7, False, False)

    def test_a_refusal_corrected_to_a_digit_or_confirmed(self, token_client, user):
        refused = SubmissionFactory(user=user, refused=True)
        url = f"{PREDICTIONS}{refused.pk}/correction/"

        to_digit = token_client.put(url, {"true_digit": 4}, format="json").json()

        assert (to_digit["digit"], to_digit["not_a_digit"], to_digit["true_digit"]) == (None, True, 4)
        assert to_digit["true_not_a_digit"] is False
        confirmed = token_client.put(url, {"not_a_digit": True}, format="json").json()
        assert (confirmed["true_digit"], confirmed["true_not_a_digit"], confirmed["corrected_not_a_digit"]) == (
            None,
            True,
            True,
        )
        refused.refresh_from_db()
        assert refused.is_confirmed and refused.corrected_by == user

    def test_not_a_digit_false_with_a_digit_is_that_digit(self, token_client, user):
        submission = SubmissionFactory(user=user, predicted_digit=7)
        url = f"{PREDICTIONS}{submission.pk}/correction/"
        body = token_client.put(url, {"true_digit": 2, "not_a_digit": False}, format="json").json()
        assert (body["true_digit"], body["corrected_not_a_digit"]) == (2, False)

    @pytest.mark.parametrize(
        ("method", "payload", "field"),
        [
            ("put", {"true_digit": 3, "not_a_digit": True}, "not_a_digit"),
            ("patch", {"true_digit": 3, "not_a_digit": True}, "not_a_digit"),
            ("put", {"not_a_digit": False}, "true_digit"),
            ("patch", {"not_a_digit": False}, "true_digit"),
            ("put", {}, "true_digit"),
            ("put", {"not_a_digit": "perhaps"}, "not_a_digit"),
        ],
    )
    def test_exactly_one_answer_or_400(self, token_client, user, method, payload, field):
        submission = SubmissionFactory(user=user, predicted_digit=7)
        url = f"{PREDICTIONS}{submission.pk}/correction/"
        error = assert_error(getattr(token_client, method)(url, payload, format="json"), 400, "invalid")
        assert field in error["details"]
        submission.refresh_from_db()
        assert not submission.is_corrected

    def test_an_empty_patch_changes_nothing(self, token_client, user):
        submission = SubmissionFactory(user=user, refused=True, corrected_not_a_digit=True)
        response = token_client.patch(f"{PREDICTIONS}{submission.pk}/correction/", {}, format="json")
        assert response.status_code == 200 and response.json()["corrected_not_a_digit"] is True

    def test_another_persons_is_404_and_unchanged(self, token_client, others_submission):
        url = f"{PREDICTIONS}{others_submission.pk}/correction/"
        assert_error(token_client.put(url, {"not_a_digit": True}, format="json"), 404, "not_found")
        others_submission.refresh_from_db()
        assert not others_submission.is_corrected


@pytest.fixture
def answers(user):
    """The user's submissions of each kind, oldest first: a digit, a refusal, a digit corrected to not a digit,
    a refusal corrected to a digit, a confirmed refusal."""
    return (
        SubmissionFactory(user=user, predicted_digit=3, confidence=0.95),
        SubmissionFactory(user=user, refused=True),
        SubmissionFactory(user=user, predicted_digit=1, confidence=0.6, corrected_not_a_digit=True),
        SubmissionFactory(user=user, refused=True, corrected_digit=3),
        SubmissionFactory(user=user, refused=True, corrected_not_a_digit=True),
    )


class TestList:
    def ids(self, client, query: str) -> list[int]:
        response = client.get(f"{PREDICTIONS}?{query}")
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    def test_filters_on_the_answer_and_the_true_answer(self, token_client, answers, others_submission):
        digit, refused, to_not_a_digit, to_digit, confirmed = answers
        assert self.ids(token_client, "answer=not_a_digit") == [confirmed.pk, to_digit.pk, refused.pk]
        assert self.ids(token_client, "answer=digit") == [to_not_a_digit.pk, digit.pk]  # never someone else's
        assert self.ids(token_client, "true_answer=not_a_digit") == [confirmed.pk, to_not_a_digit.pk, refused.pk]
        assert self.ids(token_client, "true_answer=digit") == [to_digit.pk, digit.pk]
        assert self.ids(token_client, "digit=3") == [to_digit.pk, digit.pk]
        assert self.ids(token_client, "digit=1") == []  # its true answer is not a digit
        assert self.ids(token_client, "corrected=true") == [confirmed.pk, to_digit.pk, to_not_a_digit.pk]
        assert self.ids(token_client, "corrected=false") == [refused.pk, digit.pk]
        assert self.ids(token_client, "min_confidence=0.5") == [to_not_a_digit.pk, digit.pk]  # digits only

    def test_not_a_digit_is_least_sure(self, token_client, answers):
        digit, refused, to_not_a_digit, to_digit, confirmed = answers
        assert self.ids(token_client, "ordering=confidence") == [
            confirmed.pk,
            to_digit.pk,
            refused.pk,
            to_not_a_digit.pk,
            digit.pk,
        ]
        assert self.ids(token_client, "ordering=-confidence")[:2] == [digit.pk, to_not_a_digit.pk]

    @pytest.mark.parametrize("query", ["answer=maybe", "true_answer=none", "answer=digit&answer=not_a_digit"])
    def test_bad_answer_filter_is_400(self, token_client, user, query):
        assert_error(token_client.get(f"{PREDICTIONS}?{query}"), 400, "invalid")


class TestCorrectionsForStaff:
    def test_both_kinds_listed_and_filtered(self, staff_api, answers):
        digit, refused, to_not_a_digit, to_digit, confirmed = answers
        body = staff_api.get(CORRECTIONS).json()
        listed = {c["id"]: c for c in body["results"]}
        assert set(listed) == {to_not_a_digit.pk, to_digit.pk, confirmed.pk}
        assert listed[to_not_a_digit.pk]["predicted_digit"] == 1
        assert listed[to_not_a_digit.pk]["corrected_not_a_digit"] is True
        assert listed[to_not_a_digit.pk]["corrected_digit"] is None
        assert listed[to_digit.pk]["not_a_digit"] is True and listed[to_digit.pk]["predicted_digit"] is None
        assert listed[to_digit.pk]["confidence"] is None and listed[to_digit.pk]["reason"] == "not a digit"
        assert listed[to_digit.pk]["corrected_digit"] == 3

        def ids(**query) -> set[int]:
            response = staff_api.get(CORRECTIONS, query)
            assert response.status_code == 200, response.content
            return {c["id"] for c in response.json()["results"]}

        assert ids(answer="digit", true_answer="not_a_digit") == {to_not_a_digit.pk}
        assert ids(answer="not_a_digit", true_answer="digit") == {to_digit.pk}
        assert ids(state="changed") == {to_not_a_digit.pk, to_digit.pk}
        assert ids(state="confirmed") == {confirmed.pk}
        assert_error(staff_api.get(CORRECTIONS, {"true_answer": "maybe"}), 400, "invalid")

    def test_staff_set_not_a_digit_or_a_digit(self, staff_api, staff, answers):
        _, _, to_not_a_digit, to_digit, _ = answers
        url = f"{CORRECTIONS}{to_digit.pk}/"

        body = staff_api.patch(url, {"corrected_not_a_digit": True}, format="json").json()

        assert (body["corrected_digit"], body["corrected_not_a_digit"], body["corrected_by"]) == (
            None,
            True,
            staff.username,
        )
        back = staff_api.patch(f"{CORRECTIONS}{to_not_a_digit.pk}/", {"corrected_digit": 1}, format="json").json()
        assert (back["corrected_digit"], back["corrected_not_a_digit"]) == (1, False)
        both = staff_api.patch(url, {"corrected_digit": 2, "corrected_not_a_digit": True}, format="json")
        assert "corrected_not_a_digit" in assert_error(both, 400, "invalid")["details"]
        alone = staff_api.patch(url, {"corrected_not_a_digit": False, "excluded_from_training": True}, format="json")
        assert "corrected_digit" in assert_error(alone, 400, "invalid")["details"]
        to_digit.refresh_from_db()
        assert to_digit.corrected_not_a_digit and not to_digit.excluded_from_training


class TestSchema:
    @pytest.fixture
    def schema(self, api_client, db) -> dict:
        return api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    def test_nullable_fields_are_declared_nullable(self, schema):
        prediction = schema["components"]["schemas"]["Prediction"]["properties"]
        for name in ("digit", "confidence", "true_digit", "corrected_digit"):
            assert prediction[name].get("nullable") is True, name
        for name in ("not_a_digit", "true_not_a_digit", "corrected_not_a_digit"):
            assert prediction[name]["type"] == "boolean" and not prediction[name].get("nullable"), name
        assert prediction["reason"]["type"] == "string"
        assert prediction["closest_digit"]["type"] == "integer" and not prediction["closest_digit"].get("nullable")
        correction = schema["components"]["schemas"]["ReviewedCorrection"]["properties"]
        for name in ("predicted_digit", "confidence", "corrected_digit"):
            assert correction[name].get("nullable") is True, name

    def test_the_correction_body_and_the_examples(self, schema):
        body = schema["components"]["schemas"]["CorrectionRequest"]["properties"]
        assert set(body) == {"true_digit", "not_a_digit"}
        correction = schema["paths"]["/api/v1/predictions/{id}/correction/"]["put"]
        examples = correction["requestBody"]["content"]["application/json"]["examples"]
        assert {"true_digit": 1} in [e["value"] for e in examples.values()]
        assert {"not_a_digit": True} in [e["value"] for e in examples.values()]
        created = schema["paths"]["/api/v1/predictions/"]["post"]["responses"]["201"]["content"]["application/json"]
        refusals = [e["value"] for e in created["examples"].values() if e["value"]["not_a_digit"]]
        assert refusals and refusals[0]["digit"] is None and refusals[0]["reason"]
        parameters = {p["name"]: p for p in schema["paths"]["/api/v1/predictions/"]["get"]["parameters"]}
        assert parameters["answer"]["schema"]["enum"] == parameters["true_answer"]["schema"]["enum"]
        assert set(parameters["answer"]["schema"]["enum"]) == {"digit", "not_a_digit"}
