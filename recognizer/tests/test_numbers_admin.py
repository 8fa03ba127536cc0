"""The admin's numbers: listed apart from the digits, each with its digits inline, read-only."""

import pytest
from django.urls import reverse

from recognizer.models import DigitSample
from recognizer.tests.factories import NumberFactory, SubmissionFactory, UserFactory

pytestmark = pytest.mark.django_db

NUMBERS = "/admin/recognizer/numbersubmission/"


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


def listed(admin_client, url: str, query: dict | None = None) -> set[int]:
    response = admin_client.get(url, query or {})
    assert response.status_code == 200
    return {s.pk for s in response.context["cl"].result_list}


def test_numbers_and_digits_have_their_own_lists(admin_client):
    number = NumberFactory(predicted_number="0427", corrected_number="0421")
    refused = NumberFactory(refused=True, digits="12")
    digit = SubmissionFactory()

    assert listed(admin_client, NUMBERS) == {number.pk, refused.pk}
    assert listed(admin_client, "/admin/recognizer/submission/") == {digit.pk}
    assert listed(admin_client, NUMBERS, {"corrected": "yes"}) == {number.pk}
    assert listed(admin_client, NUMBERS, {"not_a_number__exact": "1"}) == {refused.pk}
    assert listed(admin_client, NUMBERS, {"q": "0427"}) == {number.pk}
    page = admin_client.get(NUMBERS).content.decode()
    assert "→ 0421" in page and "not a number (not a number: no digit in the ink)" in page
    assert reverse("recognizer:submission-preview", args=[number.pk]) in page


def test_a_number_shows_its_digits_inline_read_only(admin_client):
    number = NumberFactory(predicted_number="42")

    response = admin_client.get(f"{NUMBERS}{number.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("recognizer:submission-image", args=[number.pk]) in page
    assert page.count('alt="digit ') == 2 and "data:image/png;base64," in page
    assert "/media/" not in page
    inline = response.context["inline_admin_formsets"][0]
    assert not inline.has_add_permission and not inline.has_change_permission and not inline.has_delete_permission
    assert admin_client.get(f"{NUMBERS}add/").status_code == 403


def test_deleting_a_number_in_the_admin_goes_through_the_service(admin_client, django_capture_on_commit_callbacks):
    number = NumberFactory()
    files = [number.image.path] + [s.input_image.path for s in number.digit_samples.all()]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{NUMBERS}{number.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not DigitSample.objects.exists()
    from pathlib import Path

    assert not any(Path(f).exists() for f in files)
