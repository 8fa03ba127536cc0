"""What a retraining did with each correction: grouped by true answer for the run's page, its inputs, the API."""

import pytest
from django.urls import reverse

from ml.refusal import NOT_A_DIGIT_LABEL
from ml.report import CorrectionOutcome
from recognizer.selectors import training_run_outcome_groups
from recognizer.services import number_correct
from recognizer.services.training_runs import training_correction_key, training_digit_sample_key
from recognizer.tests.factories import NumberFactory, SubmissionFactory, TrainingRunFactory, UserFactory

pytestmark = pytest.mark.django_db


def outcome(key: str, label: int, active: int, candidate: int, part: str = "train") -> dict:
    return CorrectionOutcome(key=key, label=label, part=part, active=active, candidate=candidate).to_dict()


@pytest.fixture
def corrections(user) -> dict:
    """A single digit, one deleted since, a number's digits and a correction to not a digit."""
    made = {
        "seven": SubmissionFactory(user=user, predicted_digit=1, corrected_digit=7),
        "gone": SubmissionFactory(user=user, predicted_digit=1, corrected_digit=7),
        "scribble": SubmissionFactory(user=user, predicted_digit=3, corrected_not_a_digit=True),
        "number": NumberFactory(user=user, predicted_number="12"),
    }
    number_correct(submission=made["number"], user=user, true_number="13")
    return made


@pytest.fixture
def run(corrections):
    key, number = training_correction_key, corrections["number"].pk
    outcomes = [
        outcome(key(corrections["seven"].pk), 7, active=1, candidate=7, part="holdout"),  # learnt
        outcome(key(corrections["gone"].pk), 7, active=1, candidate=1),  # still wrong
        outcome(key(999_999), 7, active=7, candidate=4),  # lost
        outcome(training_digit_sample_key(submission_id=number, position=0), 1, active=1, candidate=1),  # kept
        outcome(training_digit_sample_key(submission_id=number, position=1), 3, active=2, candidate=2),  # still wrong
        outcome(key(corrections["scribble"].pk), NOT_A_DIGIT_LABEL, active=3, candidate=-1, part="selection"),
    ]
    corrections["gone"].delete()
    return TrainingRunFactory(state="rejected", reason="holdout fell", correction_outcomes=outcomes)


def page(client, run):
    return client.get(reverse("recognizer:staff-training-run", args=[run.pk]))


class TestSelector:
    def test_groups_by_true_answer_with_counts_and_inputs(self, run, corrections):
        groups = {g.label: g for g in training_run_outcome_groups(run=run)}

        assert list(groups) == [1, 3, 7, NOT_A_DIGIT_LABEL]  # digits in order, then not a digit
        seven = groups[7]
        assert (seven.learnt, seven.still_wrong, seven.kept, seven.lost, seven.total) == (1, 1, 0, 1, 3)
        [learnt] = seven.learnt_items
        assert learnt.outcome.part == "holdout" and (learnt.outcome.active, learnt.outcome.candidate) == (1, 7)
        assert learnt.image_url == reverse("recognizer:submission-input", args=[corrections["seven"].pk])
        [gone] = seven.still_wrong_items
        assert gone.image_url is None and gone.detail_url is None  # deleted since: shown without its input
        [digit] = groups[3].still_wrong_items
        assert digit.image_url == reverse("recognizer:submission-digit-input", args=[corrections["number"].pk, 1])
        assert (groups[1].kept, groups[1].learnt_items, groups[1].still_wrong_items) == (1, [], [])
        [refused] = groups[NOT_A_DIGIT_LABEL].learnt_items
        assert refused.outcome.candidate == NOT_A_DIGIT_LABEL and refused.image_url is not None

    def test_admin_links_only_for_those_the_admin_shows_them(self, run, corrections, staff):
        assert all(
            i.detail_url is None for g in training_run_outcome_groups(run=run, user=staff) for i in g.learnt_items
        )
        admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
        groups = {g.label: g for g in training_run_outcome_groups(run=run, user=admin)}
        assert groups[7].learnt_items[0].detail_url == reverse(
            "admin:recognizer_submission_change", args=[corrections["seven"].pk]
        )
        assert groups[3].still_wrong_items[0].detail_url == reverse(
            "admin:recognizer_numbersubmission_change", args=[corrections["number"].pk]
        )

    def test_one_query_however_many_items_and_capped(self, user, django_assert_num_queries):
        made = [SubmissionFactory(user=user, predicted_digit=1, corrected_digit=5) for _ in range(6)]
        outcomes = [outcome(training_correction_key(s.pk), 5, active=1, candidate=5) for s in made]
        run = TrainingRunFactory(state="promoted", correction_outcomes=outcomes)

        with django_assert_num_queries(1):
            [group] = training_run_outcome_groups(run=run, shown=4)

        assert group.learnt == 6 and len(group.learnt_items) == 4
        assert all(item.image_url for item in group.learnt_items)

    def test_none_for_a_run_without_outcomes(self):
        run = TrainingRunFactory(state="failed")
        assert run.correction_outcomes == []
        assert training_run_outcome_groups(run=run) == []


class TestPage:
    def test_shows_learnt_and_still_wrong_inputs_and_the_counts(self, staff_client, run, corrections):
        html = page(staff_client, run).content.decode()

        assert 'data-testid="training-outcomes"' in html and "What it learnt" in html
        assert "learnt 1, still wrong 1, kept 0, lost 1" in html
        seven_input = reverse("recognizer:submission-input", args=[corrections["seven"].pk])
        assert f'src="{seven_input}"' in html
        assert 'alt="A 7 the active model read as 1 (held out)"' in html
        digit_input = reverse("recognizer:submission-digit-input", args=[corrections["number"].pk, 1])
        assert f'src="{digit_input}"' in html and 'alt="A 3 the candidate still reads as 2 (trained on)"' in html
        assert 'aria-label="A 7 the candidate still reads as 1 (trained on); its submission was deleted since"' in html
        assert "not a digit: " in html and "Ink that is not a digit the active model read as 3" in html
        assert "/admin/recognizer/" not in html  # a staff member the admin shows no submissions to: no link
        # Staff may see everyone's inputs.
        assert staff_client.get(seven_input).status_code == 200
        assert staff_client.get(digit_input).status_code == 200

    def test_caps_the_inputs_shown(self, staff_client):
        outcomes = [outcome(training_correction_key(i), 5, active=1, candidate=5) for i in range(1, 27)]
        run = TrainingRunFactory(state="promoted", correction_outcomes=outcomes)
        html = page(staff_client, run).content.decode()
        assert html.count('class="outcome-input"') == 24 and "and 2 more" in html

    def test_hidden_without_outcomes(self, staff_client):
        run = TrainingRunFactory(state="failed", reason="boom")
        assert "What it learnt" not in page(staff_client, run).content.decode()

    def test_staff_only(self, client, user, run):
        assert page(client, run).status_code == 302  # to sign in
        client.force_login(user)
        assert page(client, run).status_code == 403


class TestDigitInput:
    """A number's digit input as a page URL: its owner's, and staff's (the API's is its owner's alone)."""

    def test_owner_and_staff_only(self, client, user, staff, corrections):
        url = reverse("recognizer:submission-digit-input", args=[corrections["number"].pk, 0])
        assert client.get(url).status_code == 302
        client.force_login(UserFactory(username="other"))
        assert client.get(url).status_code == 404
        for who in (user, staff):
            client.force_login(who)
            response = client.get(url)
            assert response.status_code == 200 and response["Content-Type"] == "image/png"
        missing = reverse("recognizer:submission-digit-input", args=[corrections["number"].pk, 5])
        assert client.get(missing).status_code == 404


class TestApi:
    def test_the_detail_has_the_outcomes_the_list_does_not(self, staff_api, run):
        body = staff_api.get(f"/api/v1/training-runs/{run.pk}/").json()
        assert body["correction_outcomes"] == run.correction_outcomes
        assert {o["outcome"] for o in body["correction_outcomes"]} == {"learnt", "still_wrong", "kept", "lost"}
        [listed] = staff_api.get("/api/v1/training-runs/").json()["results"]
        assert listed["id"] == run.pk and "correction_outcomes" not in listed

    def test_documented(self, staff_api):
        schema = staff_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["components"][
            "schemas"
        ]
        field = schema["TrainingRunDetail"]["properties"]["correction_outcomes"]
        assert field["items"]["$ref"] == "#/components/schemas/CorrectionOutcome"
        assert set(schema["CorrectionOutcome"]["required"]) == {
            "key",
            "label",
            "part",
            "active",
            "candidate",
            "outcome",
        }
