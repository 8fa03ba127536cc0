"""The Number page, numbers in History and a number's page, through Django's test client (no browser)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from recognizer.models import Submission
from recognizer.services import number_create
from recognizer.tests.conftest import number_png
from recognizer.tests.factories import DigitSampleFactory, NumberFactory, SubmissionFactory

pytestmark = pytest.mark.django_db

NUMBERS_API = "/api/v1/numbers/"


@pytest.fixture
def client_in(client, user) -> Client:
    """The person signed in (test_views has its own)."""
    client.force_login(user)
    return client


def _html(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _text(html: str) -> str:
    """The page's words, tags dropped and whitespace squeezed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _stored_number(user, digits: str = "704") -> Submission:
    """A number read by the shipped model and stored by the service, as the page's script makes one."""
    return number_create(user=user, image_bytes=number_png(digits), source=Submission.Source.CANVAS)


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    "name,args",
    [("recognizer:numbers", []), ("recognizer:number-detail", [1]), ("recognizer:number-delete", [1])],
)
def test_number_pages_require_login(client, name, args):
    url = reverse(name, args=args)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", ["recognizer:number-correct", "recognizer:submission-read-as-number"])
def test_number_forms_require_login(client, name):
    response = client.post(reverse(name, args=[1]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_another_persons_number_is_404_on_every_page(client_in):
    other = NumberFactory()
    for name in ("recognizer:number-detail", "recognizer:number-delete"):
        assert client_in.get(reverse(name, args=[other.pk])).status_code == 404
    assert client_in.post(reverse("recognizer:number-correct", args=[other.pk]), {"confirm": "true"}).status_code == 404
    other.refresh_from_db()
    assert not other.is_corrected


def test_a_digit_is_not_a_number_page_and_a_number_not_a_digit_page(client_in, user):
    digit, number = SubmissionFactory(user=user), NumberFactory(user=user)
    assert client_in.get(reverse("recognizer:number-detail", args=[digit.pk])).status_code == 404
    assert client_in.get(reverse("recognizer:submission-detail", args=[number.pk])).status_code == 404


# --------------------------------------------------------------------------- the Number page


def test_the_number_page_carries_the_testid_contract(client_in):
    html = _html(client_in, reverse("recognizer:numbers"))
    for testid in ["draw-canvas", "clear-button", "predict-button", "upload-input", "prediction-number"]:
        assert html.count(f'data-testid="{testid}"') == 1, testid
    assert 'width="840" height="280"' in html  # the wide pad: a 3:1 image is sent
    assert f'data-api-url="{NUMBERS_API}"' in html  # the script's one endpoint
    assert "recognizer/number_page.js" in html and "recognizer/digitvision.js" not in html
    assert 'name="csrf-token"' in html
    # The correction field takes digits only, with the phone's number keyboard.
    assert 'inputmode="numeric" pattern="[0-9]{1,12}" maxlength="12"' in html
    # The unsure mark's threshold is said on the page, and given to the script.
    assert 'data-unsure-below="0.8"' in html and "read with less than 80% confidence" in _text(html)
    assert "This doesn't look like a number" in html
    assert "<template data-digit-template>" in html


def test_the_menu_links_the_number_page(client_in):
    link = f'<a href="{reverse("recognizer:numbers")}" '
    draw = _html(client_in, reverse("recognizer:draw"))
    assert f"{link}>Number</a>" in draw
    page = _html(client_in, reverse("recognizer:numbers"))
    assert f'{link}aria-current="page">Number</a>' in page


def test_the_page_scripts_use_only_the_public_api():
    from django.conf import settings

    scripts = ["number_page", "workspace", "result_panel", "drawing_pad", "api", "digitvision"]
    for name in scripts:
        script = settings.BASE_DIR / "static" / "recognizer" / f"{name}.js"
        text = script.read_text()
        assert "data-testid" not in text, script.name
        assert "/predict/" not in text, script.name


def test_the_upload_form_reads_a_number_without_javascript(client_in, user, shipped_version):
    upload = SimpleUploadedFile("704.png", number_png("704"), content_type="image/png")
    response = client_in.post(reverse("recognizer:numbers"), {"image": upload})
    number = Submission.objects.numbers().get()
    assert response.status_code == 302 and response["Location"] == reverse("recognizer:number-detail", args=[number.pk])
    assert (number.predicted_number, number.source, number.user) == ("704", "upload", user)


def test_the_upload_form_says_no_digit_for_a_blank_image(client_in, shipped_version, blank_png):
    upload = SimpleUploadedFile("blank.png", blank_png.read_bytes(), content_type="image/png")
    response = client_in.post(reverse("recognizer:numbers"), {"image": upload})
    assert response.status_code == 422
    assert "data-upload-server-error" in response.content.decode()
    assert not Submission.objects.exists()


# --------------------------------------------------------------------------- History


def test_history_lists_a_number_stored_by_the_service(client_in, user, shipped_version):
    number = _stored_number(user)
    digit = SubmissionFactory(user=user, predicted_digit=3)
    html = _html(client_in, reverse("recognizer:history"))
    item = re.search(rf'<li class="history-item is-number" data-submission-id="{number.pk}".*?</li>', html, re.S)
    assert item, html
    text = _text(item.group(0))
    assert f'href="{reverse("recognizer:number-detail", args=[number.pk])}"' in item.group(0)
    assert text.startswith("704 ") and "%" in text and "number" in text and "unchecked" in text
    assert f'data-submission-id="{digit.pk}" data-kind="digit"' in html  # digits beside the numbers
    assert "2 submissions" in _text(html)


def test_history_shows_a_numbers_correction(client_in, user):
    NumberFactory(user=user, predicted_number="2026", corrected_number="2036")
    NumberFactory(user=user, predicted_number="42", corrected_number="412", segmentation_wrong=True)
    NumberFactory(user=user, predicted_number="77", corrected_number="77")
    NumberFactory(user=user, refused=True)
    text = _text(_html(client_in, reverse("recognizer:history")))
    assert "2026 90.0%" in text and "→ 2036" in text
    assert "→ 412 (other digits)" in text
    assert "77 90.0%" in text and "confirmed" in text
    assert "not a number" in text


def _listed(client: Client, query: str = "") -> set[int]:
    html = _html(client, reverse("recognizer:history") + query)
    return {int(pk) for pk in re.findall(r'data-submission-id="(\d+)"', html)}


def test_history_filters_numbers_as_digits(client_in, user):
    seven = SubmissionFactory(user=user, predicted_digit=7)
    refused = SubmissionFactory(user=user, refused=True)
    number = NumberFactory(user=user, predicted_number="2026", confidence=0.5)
    fixed = NumberFactory(user=user, predicted_number="17", corrected_number="71")
    nothing = NumberFactory(user=user, refused=True)
    NumberFactory()  # someone else's

    assert _listed(client_in) == {seven.pk, refused.pk, number.pk, fixed.pk, nothing.pk}
    assert _listed(client_in, "?kind=number") == {number.pk, fixed.pk, nothing.pk}
    assert _listed(client_in, "?kind=digit") == {seven.pk, refused.pk}
    # A digit: a digit's true digit, or in a number's true number.
    assert _listed(client_in, "?digit=7") == {seven.pk, fixed.pk}
    assert _listed(client_in, "?digit=6") == {number.pk}
    assert _listed(client_in, "?corrected=yes") == {fixed.pk}
    assert _listed(client_in, "?answer=number") == {number.pk, fixed.pk}
    assert _listed(client_in, "?answer=not_a_number") == {nothing.pk}
    assert _listed(client_in, "?answer=not_a_digit") == {refused.pk}
    assert _listed(client_in, "?true_answer=number") == {number.pk, fixed.pk}
    assert _listed(client_in, "?kind=digit&answer=number") == set()
    html = _html(client_in, reverse("recognizer:history") + "?order=lowest_confidence")
    order = [int(pk) for pk in re.findall(r'data-submission-id="(\d+)"', html)]
    assert order.index(nothing.pk) < order.index(number.pk) < order.index(seven.pk)  # none, 50%, 90%


def test_the_history_page_offers_the_kind_filter(client_in):
    html = _html(client_in, reverse("recognizer:history"))
    assert '<option value="number">Numbers</option>' in html
    assert '<option value="not_a_number">Not a number</option>' in html


# --------------------------------------------------------------------------- a number's page


def test_the_number_page_of_a_stored_number_shows_the_boxes_over_the_original(client_in, user, shipped_version):
    number = _stored_number(user)
    samples = list(number.digit_samples.all())
    html = _html(client_in, reverse("recognizer:number-detail", args=[number.pk]))

    width, height = 60 + 120 * 3, 220  # number_png's image
    assert f'viewBox="0 0 {width} {height}"' in html
    assert f"aspect-ratio: {width} / {height}" in html
    rects = re.findall(r'<rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"', html)
    assert [tuple(map(int, r)) for r in rects] == [s.box for s in samples]
    assert f'src="{reverse("recognizer:submission-image", args=[number.pk])}"' in html
    # Each digit's crop, digit and confidence, left to right, in the panel.
    for sample in samples:
        assert f'src="{reverse("api:number-digit-input-image", args=[number.pk, sample.position])}"' in html
    digits = re.findall(r'<span class="number-digit-value" data-digit-value>(\d)</span>', html)
    assert "".join(digits) == "704"
    assert 'data-testid="prediction-number" data-number-value>704<' in html
    assert f'data-number-id="{number.pk}" data-number="704"' in html
    assert 'data-state="ready"' in html and 'data-answer="number"' in html


def test_a_numbers_page_marks_unsure_digits(client_in, user):
    number = NumberFactory(user=user, predicted_number="12", digits="")
    DigitSampleFactory(submission=number, position=0, predicted_digit=1, confidence=0.95)
    DigitSampleFactory(submission=number, position=1, predicted_digit=2, confidence=0.6)
    html = _html(client_in, reverse("recognizer:number-detail", args=[number.pk]))
    items = re.findall(r'<li class="number-digit( is-unsure)?" data-digit-item data-position="(\d)"', html)
    assert items == [("", "0"), (" is-unsure", "1")]
    assert html.count('<g class="digit-box is-unsure"') == 1
    # The picker starts on the unsure digit.
    assert re.search(r'value="1" class="number-digit-radio" data-digit-choice checked', html)
    assert "digit <span data-fix-label>2</span> is" in html


def test_a_number_not_read_says_so(client_in, user):
    number = NumberFactory(user=user, refused=True)
    html = _html(client_in, reverse("recognizer:number-detail", args=[number.pk]))
    assert 'data-answer="not-a-number"' in html
    assert "Read not a number Reason not a number: no digit in the ink" in _text(html)
    assert re.search(r'<form method="post" class="correction-row" data-confirm-form hidden', html)


# --------------------------------------------------------------------------- corrections without JavaScript


def _correct(client: Client, number: Submission, **data):
    return client.post(reverse("recognizer:number-correct", args=[number.pk]), data)


def test_a_number_is_corrected_confirmed_and_fixed_digit_by_digit_without_javascript(client_in, user):
    number = NumberFactory(user=user, predicted_number="2026")
    detail = reverse("recognizer:number-detail", args=[number.pk])

    response = _correct(client_in, number, position="2", true_digit="3")
    assert response.status_code == 302 and response["Location"] == detail
    number.refresh_from_db()
    assert (number.corrected_number, number.segmentation_wrong) == ("2036", False)
    html = _html(client_in, detail)
    assert "Corrected to 2036" in html and "Corrected</dt><dd>to 2036," in html
    assert '<span class="number-digit-fixed" data-digit-corrected>→ 3</span>' in html

    _correct(client_in, number, confirm="true")
    number.refresh_from_db()
    assert number.corrected_number == "2026" and number.is_confirmed
    assert "Confirmed: 2026" in _html(client_in, detail)

    _correct(client_in, number, true_number="202")
    number.refresh_from_db()
    assert (number.corrected_number, number.segmentation_wrong) == ("202", True)
    text = _text(_html(client_in, detail))
    assert "segmentation is marked wrong; the digits were not used for training" in text
    assert "Segmentation marked wrong" in text
    html = _html(client_in, detail)
    assert re.search(r'<div class="digit-fix" data-digit-fix hidden>', html)  # one digit no longer fits


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"true_number": "20a6"},
        {"true_number": "1234567890123"},
        {"true_digit": "4"},
        {"confirm": "true", "true_number": "1"},
    ],
)
def test_a_bad_number_correction_changes_nothing(client_in, user, data):
    number = NumberFactory(user=user, predicted_number="2026")
    response = _correct(client_in, number, **data)
    assert response.status_code == 400
    number.refresh_from_db()
    assert not number.is_corrected


def test_a_number_is_deleted_after_confirming(client_in, user):
    number = NumberFactory(user=user)
    url = reverse("recognizer:number-delete", args=[number.pk])
    html = _html(client_in, url)
    assert f"Delete number #{number.pk}?" in html and "The number <strong>42</strong>" in html
    assert f'href="{reverse("recognizer:number-detail", args=[number.pk])}">Keep it' in html
    response = client_in.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("recognizer:history")
    assert not Submission.objects.filter(pk=number.pk).exists()


# --------------------------------------------------------------------------- "Read as a number" on the digit pages


def test_the_digit_panel_offers_to_read_several_digits_as_a_number(client_in, user):
    several = SubmissionFactory(user=user, refused=True, refusal_reason="looks like several digits")
    html = _html(client_in, reverse("recognizer:submission-detail", args=[several.pk]))
    action = reverse("recognizer:submission-read-as-number", args=[several.pk])
    assert re.search(
        rf'<form class="result-number-hint" method="post" data-result-number-hint\s+action="{action}"', html
    )
    assert f'data-numbers-url="{NUMBERS_API}"' in html and f'data-source="{several.source}"' in html
    other = SubmissionFactory(user=user, refused=True)
    html = _html(client_in, reverse("recognizer:submission-detail", args=[other.pk]))
    assert re.search(r'<form class="result-number-hint" method="post" data-result-number-hint hidden', html)


def test_read_as_a_number_without_javascript(client_in, user, shipped_version):
    from django.core.files.base import ContentFile

    several = SubmissionFactory(user=user, refused=True, refusal_reason="looks like several digits", source="upload")
    several.image.save("704.png", ContentFile(number_png("704")))
    response = client_in.post(reverse("recognizer:submission-read-as-number", args=[several.pk]))
    number = Submission.objects.numbers().get()
    assert response["Location"] == reverse("recognizer:number-detail", args=[number.pk])
    assert (number.predicted_number, number.source) == ("704", "upload")
    assert Submission.objects.filter(pk=several.pk).exists()  # the digit's answer stays, to be corrected
