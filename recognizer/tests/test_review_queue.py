"""The staff review queue: everyone's uncorrected predictions, refused and least sure first, labelled by staff in
one click on the page or through the API, and shown in the person's history as a staff correction."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from recognizer.models import Submission
from recognizer.selectors import submission_review_queue
from recognizer.tests.factories import NumberFactory, SubmissionFactory, UserFactory
from recognizer.tests.test_api import assert_error

pytestmark = pytest.mark.django_db

PAGE = reverse("recognizer:staff-review")
API = "/api/v1/staff/review/"


def _label_url(submission: Submission) -> str:
    return reverse("recognizer:staff-review-label", args=[submission.pk])


def _api_label_url(submission: Submission) -> str:
    return f"{API}{submission.pk}/label/"


def _ids_in_page(html: str) -> list[int]:
    marker = 'data-submission-id="'
    return [int(chunk.split('"', 1)[0]) for chunk in html.split(marker)[1:]]


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def queue(user):
    """Predictions of two people, some corrected, and the order the queue must have."""
    other = UserFactory(username="grace")
    now = timezone.now()
    sure = SubmissionFactory(user=user, confidence=0.95)
    unsure = SubmissionFactory(user=other, confidence=0.40)
    refused_new = SubmissionFactory(user=user, refused=True, created_at=now)
    refused_old = SubmissionFactory(user=other, refused=True, created_at=now - timedelta(hours=1))
    middling_old = SubmissionFactory(user=user, confidence=0.6, created_at=now - timedelta(days=1))
    middling_new = SubmissionFactory(user=other, confidence=0.6, created_at=now)
    # Not in the queue: corrected (to a digit, to or as "not a digit", by anyone), and numbers.
    SubmissionFactory(user=other, confidence=0.1, corrected_digit=3, corrected_by=other)
    SubmissionFactory(user=user, refused=True, corrected_not_a_digit=True, corrected_by=user)
    SubmissionFactory(user=user, confidence=0.2, corrected_not_a_digit=True)
    NumberFactory(user=user, confidence=0.05)
    NumberFactory(user=other, refused=True)
    return [refused_old, refused_new, unsure, middling_old, middling_new, sure]


class TestOrder:
    def test_refused_first_then_least_sure_then_oldest_across_people(self, queue):
        assert list(submission_review_queue()) == queue

    def test_page_and_api_list_in_the_same_order(self, staff_client, staff_api, queue):
        expected = [s.pk for s in queue]
        assert _ids_in_page(staff_client.get(PAGE).content.decode()) == expected
        body = staff_api.get(API).json()
        assert body["count"] == len(queue) and [item["id"] for item in body["results"]] == expected

    def test_paginated_like_other_lists(self, staff_client, staff_api, queue):
        first, second = staff_api.get(API, {"page_size": 4}).json(), staff_api.get(API, {"page_size": 4, "page": 2})
        assert [i["id"] for i in first["results"] + second.json()["results"]] == [s.pk for s in queue]
        assert first["next"] and second.json()["next"] is None
        assert_error(staff_api.get(API, {"page_size": 0}), 400, "invalid")
        page = staff_client.get(PAGE, {"page": 2})
        assert page.status_code == 200 and page.context["page_obj"].number == 1  # one page of 24 holds them all


class TestPage:
    def test_shows_each_prediction_with_its_image_reading_and_buttons(self, staff_client, queue):
        refused, unsure = queue[0], queue[2]
        response = staff_client.get(PAGE)
        html = response.content.decode()
        assert response.status_code == 200 and response.context["active"] == "review"
        assert reverse("recognizer:submission-preview", args=[unsure.pk]) in html
        assert staff_client.get(reverse("recognizer:submission-preview", args=[unsure.pk])).status_code == 200
        assert "40.0% sure" in html and "grace" in html
        assert "not a digit; closest 4 at 31.0%" in html  # the factory's refusal reason and nearest digit
        assert html.count('data-testid="label-7"') == len(queue)
        assert html.count('data-testid="label-not-a-digit"') == len(queue)
        assert f'action="{_label_url(refused)}"' in html
        assert 'data-testid="review-count">6<' in html

    def test_review_link_in_nav_for_staff_only(self, client, user, staff):
        client.force_login(user)
        assert PAGE.encode() not in client.get(reverse("recognizer:draw")).content
        client.force_login(staff)
        assert PAGE.encode() in client.get(reverse("recognizer:draw")).content

    def test_empty_queue(self, staff_client):
        html = staff_client.get(PAGE).content.decode()
        assert 'data-testid="review-empty"' in html

    def test_one_click_records_a_staff_correction_and_it_leaves_the_queue(self, staff_client, staff, queue):
        refused, unsure = queue[0], queue[2]
        back = f"{PAGE}?page=1"

        response = staff_client.post(_label_url(unsure), {"digit": 9, "next": back})

        assert response.status_code == 302 and response.url == back
        unsure.refresh_from_db()
        assert unsure.corrected_digit == 9 and unsure.corrected_by == staff and unsure.corrected_at is not None
        assert unsure.corrected_by_staff
        staff_client.post(_label_url(refused), {"not_a_digit": "true"})
        refused.refresh_from_db()
        assert refused.corrected_not_a_digit and refused.corrected_by == staff
        after = staff_client.get(PAGE)
        assert _ids_in_page(after.content.decode()) == [s.pk for s in queue if s not in (refused, unsure)]
        assert f"Submission #{refused.pk} is now labelled not a digit." in _messages(after)

    def test_a_foreign_next_address_goes_back_to_the_queue(self, staff_client, queue):
        response = staff_client.post(_label_url(queue[0]), {"digit": 1, "next": "https://evil.example/"})
        assert response.url == PAGE

    @pytest.mark.parametrize(
        "data", [{}, {"digit": 12}, {"digit": "seven"}, {"digit": 3, "not_a_digit": "true"}], ids=str
    )
    def test_a_bad_label_changes_nothing_and_says_so(self, staff_client, queue, data):
        unsure = queue[2]
        response = staff_client.post(_label_url(unsure), data, follow=True)
        assert response.status_code == 200
        assert "Choose a digit from 0 to 9, or not a digit." in _messages(response)
        unsure.refresh_from_db()
        assert not unsure.is_corrected and unsure.corrected_by is None

    def test_labelled_meanwhile_keeps_the_first_label(self, staff_client, user, queue):
        mine = queue[1]  # the user's own refused one, which they correct before staff click
        mine.corrected_digit, mine.corrected_by = 5, user
        mine.save()
        response = staff_client.post(_label_url(mine), {"digit": 2}, follow=True)
        assert f"Submission #{mine.pk} was already labelled 5." in _messages(response)
        mine.refresh_from_db()
        assert mine.corrected_digit == 5 and mine.corrected_by == user

    def test_a_number_or_a_missing_id_is_404(self, staff_client):
        number = NumberFactory()
        assert staff_client.post(_label_url(number), {"digit": 4}).status_code == 404
        missing = reverse("recognizer:staff-review-label", args=[999999])
        assert staff_client.post(missing, {"digit": 4}).status_code == 404
        number.refresh_from_db()
        assert not number.is_corrected

    def test_get_is_not_allowed_on_the_label_action(self, staff_client, queue):
        assert staff_client.get(_label_url(queue[0])).status_code == 405


class TestPermissions:
    def test_non_staff_get_403_on_the_page_and_its_action_and_nothing_changes(self, client, user, queue):
        mine = queue[1]  # even their own prediction: the queue is staff's
        client.force_login(user)
        assert client.get(PAGE).status_code == 403
        assert client.post(_label_url(mine), {"digit": 3}).status_code == 403
        mine.refresh_from_db()
        assert not mine.is_corrected

    def test_anonymous_are_sent_to_sign_in(self, client, queue):
        for response in (client.get(PAGE), client.post(_label_url(queue[0]), {"digit": 3})):
            assert response.status_code == 302 and response.url.startswith(reverse("login") + "?next=")
        assert not Submission.objects.filter(pk=queue[0].pk).corrected().exists()

    def test_non_staff_get_403_on_the_api_and_anonymous_401(self, token_client, queue):
        mine = queue[1]
        assert_error(token_client.get(API), 403, "permission_denied")
        assert_error(token_client.put(_api_label_url(mine), {"true_digit": 3}), 403, "permission_denied")
        assert_error(token_client.get(f"{API}{mine.pk}/preview/"), 403, "permission_denied")
        anonymous = APIClient()
        assert_error(anonymous.get(API), 401, "not_authenticated")
        assert_error(anonymous.put(_api_label_url(mine), {"true_digit": 3}), 401, "not_authenticated")
        mine.refresh_from_db()
        assert not mine.is_corrected

    def test_people_still_correct_only_their_own(self, staff_api, token_client, user, queue):
        others = queue[0]  # grace's
        # Staff label others' predictions through the queue only: the people's endpoint is one's own.
        url = f"/api/v1/predictions/{others.pk}/correction/"
        for client in (staff_api, token_client):
            assert_error(client.put(url, {"true_digit": 1}), 404, "not_found")
        others.refresh_from_db()
        assert not others.is_corrected


class TestApi:
    def test_items_say_whose_what_was_read_and_where_to_label(self, staff_api, queue):
        refused = queue[0]
        item = staff_api.get(API).json()["results"][0]
        assert item["id"] == refused.pk and item["person"] == "grace"
        assert item["predicted_digit"] is None and item["confidence"] is None and item["not_a_digit"] is True
        assert item["reason"] == "not a digit" and item["closest_digit"] == 4
        assert item["model_version"] == refused.model_version.name
        assert item["label"].endswith(_api_label_url(refused))
        assert item["preview"].endswith(f"{API}{refused.pk}/preview/")
        preview = staff_api.get(f"{API}{refused.pk}/preview/", HTTP_ACCEPT="image/webp")
        assert preview.status_code == 200 and preview["Content-Type"].startswith("image/")

    def test_labelling_records_a_staff_correction_and_it_leaves_the_queue(self, staff_api, staff, queue):
        refused, unsure = queue[0], queue[2]

        response = staff_api.put(_api_label_url(unsure), {"true_digit": 3}, format="json")

        assert response.status_code == 200
        body = response.json()
        assert body["id"] == unsure.pk and body["corrected_digit"] == 3 and body["corrected_by"] == staff.username
        assert body["preview"].endswith(f"/api/v1/corrections/{unsure.pk}/preview/")
        refused_body = staff_api.put(_api_label_url(refused), {"not_a_digit": True}, format="json").json()
        assert refused_body["corrected_not_a_digit"] is True and refused_body["corrected_by"] == staff.username
        for submission in (refused, unsure):
            submission.refresh_from_db()
            assert submission.corrected_by == staff
        listed = [item["id"] for item in staff_api.get(API).json()["results"]]
        assert listed == [s.pk for s in queue if s not in (refused, unsure)]
        # Labelled: out of the queue, so a second label is a 404 (change it on /api/v1/corrections/ instead).
        assert_error(staff_api.put(_api_label_url(unsure), {"true_digit": 4}, format="json"), 404, "not_found")
        assert staff_api.get(f"/api/v1/corrections/{unsure.pk}/").json()["corrected_digit"] == 3

    @pytest.mark.parametrize(
        "body",
        [{}, {"true_digit": 10}, {"true_digit": "x"}, {"true_digit": 3, "not_a_digit": True}, {"not_a_digit": False}],
        ids=str,
    )
    def test_a_bad_label_is_a_400_in_the_one_error_shape_and_changes_nothing(self, staff_api, queue, body):
        unsure = queue[2]
        assert_error(staff_api.put(_api_label_url(unsure), body, format="json"), 400, "invalid")
        unsure.refresh_from_db()
        assert not unsure.is_corrected and unsure.corrected_by is None
        assert unsure.pk in [item["id"] for item in staff_api.get(API).json()["results"]]

    def test_a_number_is_not_in_the_queue(self, staff_api):
        number = NumberFactory(confidence=0.1)
        assert staff_api.get(API).json()["count"] == 0
        assert_error(staff_api.put(_api_label_url(number), {"true_digit": 4}, format="json"), 404, "not_found")

    def test_only_put(self, staff_api, queue):
        assert_error(staff_api.post(_api_label_url(queue[0]), {"true_digit": 4}), 405, "method_not_allowed")
        assert_error(staff_api.get(f"{API}{queue[0].pk}/"), 404, "not_found")  # no detail route: the list is it

    def test_documented_with_examples(self, staff_api):
        schema = staff_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
        listing = schema["paths"]["/api/v1/staff/review/"]["get"]
        assert "403" in listing["responses"] and listing["responses"]["200"]["content"]["application/json"]["examples"]
        label = schema["paths"]["/api/v1/staff/review/{id}/label/"]["put"]
        assert {"200", "400", "403", "404"} <= set(label["responses"])
        assert label["requestBody"]["content"]["application/json"]["examples"]
        prediction = schema["components"]["schemas"]["Prediction"]["properties"]
        assert prediction["corrected_by_staff"]["type"] == "boolean"


class TestHistory:
    """The person sees a staff label as such, on History, the detail page and in the API."""

    @pytest.fixture
    def labelled(self, staff_client, user, queue):
        by_staff = queue[1]  # the user's refused one
        staff_client.post(_label_url(by_staff), {"digit": 8})
        own = queue[3]
        own.corrected_digit, own.corrected_by = 2, user
        own.save()
        return by_staff, own

    def test_history_and_detail_say_corrected_by_staff(self, client, user, labelled):
        by_staff, own = labelled
        client.force_login(user)
        html = client.get(reverse("recognizer:history")).content.decode()
        item = html.split(f'data-submission-id="{by_staff.pk}"', 1)[1].split("</li>", 1)[0]
        assert "→ 8, by staff" in item
        own_item = html.split(f'data-submission-id="{own.pk}"', 1)[1].split("</li>", 1)[0]
        assert "→ 2" in own_item and "by staff" not in own_item
        detail = client.get(reverse("recognizer:submission-detail", args=[by_staff.pk])).content.decode()
        assert "to 8 by staff" in detail
        own_detail = client.get(reverse("recognizer:submission-detail", args=[own.pk])).content.decode()
        assert "by staff" not in own_detail

    def test_confirmed_by_staff(self, client, staff_client, user, queue):
        sure = queue[5]  # the user's, read as its factory digit
        staff_client.post(_label_url(sure), {"digit": sure.predicted_digit})
        client.force_login(user)
        assert "confirmed by staff" in client.get(reverse("recognizer:history")).content.decode()

    def test_the_api_says_corrected_by_staff(self, token_client, labelled):
        by_staff, own = labelled
        assert token_client.get(f"/api/v1/predictions/{by_staff.pk}/").json()["corrected_by_staff"] is True
        assert token_client.get(f"/api/v1/predictions/{own.pk}/").json()["corrected_by_staff"] is False
        uncorrected = token_client.get("/api/v1/predictions/", {"corrected": "false"}).json()["results"]
        assert uncorrected and all(item["corrected_by_staff"] is False for item in uncorrected)

    def test_the_person_correcting_again_makes_it_theirs(self, token_client, user, labelled):
        by_staff, _ = labelled
        body = token_client.put(f"/api/v1/predictions/{by_staff.pk}/correction/", {"true_digit": 1}).json()
        assert body["corrected_digit"] == 1 and body["corrected_by_staff"] is False
