"""The Number page in a real browser: "2026" written with the mouse (MNIST test digits' centre lines side by side)
is read and corrected; uploads, a phone's width, "Read as a number" on the Draw page, and axe-core's audit."""

import base64
import os

import pytest
from playwright.sync_api import expect

from recognizer.tests import browser_strokes as bs
from recognizer.tests.conftest import number_png
from recognizer.tests.factories import NumberFactory

# The module-scoped `browser` fixture is test_browser's: imported, it gives this module its own Chromium; so
# is its 390 px touch phone; the audit's fixtures are test_browser_a11y's.
from recognizer.tests.test_browser import (  # noqa: F401
    ARTIFACTS,
    SEVENTEEN,
    _close,
    _context_page,
    _screenshot_on_failure,
    browser,
    mnist,
    sign_up,
    touch_context,
    wait_for_answer,
)
from recognizer.tests.test_browser_a11y import PHONE_WIDTH, WIDEST_JS, audit, audited_context, axe_source, signed_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# MNIST test digits the shipped model reads surely, alone and side by side on the wide pad (each at 100.0%):
# single strokes, so the drawing is the same whatever the pointer's timing. Labels 2, 0, 2, 6.
TWENTY_TWENTY_SIX = (1, 3, 38, 11)
PANEL = "[data-number-panel]"
# DIGITVISION_SCREENSHOTS=1: the Number page with its result saved to test-artifacts/, desktop and phone.
SCREENSHOTS = bool(os.environ.get("DIGITVISION_SCREENSHOTS"))


@pytest.fixture
def page(request, browser, shipped_version):  # noqa: F811 - the imported fixture
    """A desktop browser tab, as test_browser's, in this module's Chromium."""
    context, page = _context_page(browser, viewport={"width": 1100, "height": 900})
    yield page
    _screenshot_on_failure(request, page)
    _close(context, page)


def open_number_page(page, live_server, username: str = "ada") -> None:
    sign_up(page, live_server, username)
    page.get_by_role("link", name="Number", exact=True).click()
    page.wait_for_url("**/numbers/")
    page.wait_for_load_state("load")  # the module script has bound the pad's handlers


def number_strokes(page, indices=TWENTY_TWENTY_SIX) -> list[bs.Polyline]:
    """The digits' traced strokes laid out left to right on the wide canvas, each in its quarter with a gap."""
    digits = [bs.digit_strokes(index) for index in indices]
    assert [label for _, label in digits] == [2, 0, 2, 6]
    return bs.lay_out_number([strokes for strokes, _ in digits], bs.canvas_box(page))


def wait_for_number(page, timeout: float = 20_000) -> str:
    """Wait for the reading the page makes after the last stroke (or file); returns the number shown."""
    page.wait_for_function(
        """() => { const p = document.querySelector('[data-number-panel]');
                   return p.dataset.lastLatencyMs !== '' && p.dataset.state === 'ready'; }""",
        timeout=timeout,
    )
    return page.get_by_test_id("prediction-number").inner_text().strip()


def api_number(page, live_server, pk: int) -> dict:
    """The number as the API gives it, with the browser's own session."""
    response = page.request.get(f"{live_server.url}/api/v1/numbers/{pk}/")
    assert response.ok, response.status
    return response.json()


def the_number():
    from recognizer.models import Submission

    return Submission.objects.numbers().get()


def assert_crops_shown(page, count: int) -> None:
    items = page.locator(f"{PANEL} [data-digit-item]")
    expect(items).to_have_count(count)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-number-panel] [data-digit-input]')]
                   .every((img) => img.complete && img.naturalWidth === 28)"""
    )


def test_writing_2026_with_the_mouse_reads_it_and_a_digit_is_corrected(page, live_server, mnist):  # noqa: F811
    open_number_page(page, live_server)

    bs.mouse_draw(page, number_strokes(page))

    assert wait_for_number(page) == "2026"
    assert page.get_by_test_id("number-confidence").inner_text().endswith("%")
    assert_crops_shown(page, 4)
    values = page.locator(f"{PANEL} [data-digit-value]").all_inner_texts()
    assert values == ["2", "0", "2", "6"]
    number = the_number()
    assert (number.predicted_number, number.source) == ("2026", "canvas")  # one reading of the drawing
    if SCREENSHOTS:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "number-page-desktop.png"), full_page=True)

    # One digit fixed: the fourth is an 8 (the others are confirmed).
    page.locator(f"{PANEL} [data-digit-item][data-position='3'] label").click()
    expect(page.locator("[data-fix-label]")).to_have_text("4")
    page.locator(f"{PANEL} [data-fix-digit][value='8']").click()
    expect(page.locator("[data-correction-state]")).to_have_text("Corrected to 2028")
    expect(page.locator("[data-digit-item][data-position='3'] [data-digit-corrected]")).to_have_text("→ 8")
    stored = api_number(page, live_server, number.pk)
    assert (stored["corrected_number"], stored["segmentation_wrong"]) == ("2028", False)
    assert [d["true_digit"] for d in stored["digits"]] == [2, 0, 2, 8]

    # The whole number typed, with a digit more than were found: kept, but no digit is trained on.
    field = page.get_by_label("Or type the number that is written")
    assert field.get_attribute("inputmode") == "numeric"
    field.press_sequentially("20x266")  # a letter typed is dropped
    expect(field).to_have_value("20266")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-correction-state]")).to_contain_text("segmentation is marked wrong")
    expect(page.locator("[data-digit-fix]")).to_be_hidden()
    stored = api_number(page, live_server, number.pk)
    assert (stored["corrected_number"], stored["segmentation_wrong"]) == ("20266", True)
    assert [d["corrected_digit"] for d in stored["digits"]] == [None] * 4

    # History lists it beside the digits; its page draws each digit's box over the drawing, scaled.
    page.get_by_role("link", name="History").first.click()
    item = page.locator(f"[data-submission-id='{number.pk}']")
    expect(item.locator(".history-digit")).to_have_text("2026")
    expect(item.locator(".badge")).to_have_text("→ 20266 (other digits)")
    item.locator("a").click()
    page.wait_for_url(f"**/numbers/{number.pk}/")
    expect(page.get_by_test_id("prediction-number")).to_have_text("2026")
    assert_boxes_follow_the_image(page, number)
    if SCREENSHOTS:
        page.screenshot(path=str(ARTIFACTS / "number-detail-desktop.png"), full_page=True)

    # Corrected on its page too (the same script): confirmed after all, so one digit can be fixed again.
    expect(page.locator("[data-digit-fix]")).to_be_hidden()
    page.get_by_role("button", name="✓ Correct").click()
    expect(page.locator("[data-correction-state]")).to_have_text("Confirmed: 2026")
    expect(page.locator("[data-confirm-button]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-digit-fix]")).to_be_visible()
    stored = api_number(page, live_server, number.pk)
    assert (stored["corrected_number"], stored["segmentation_wrong"]) == ("2026", False)


def assert_boxes_follow_the_image(page, number) -> None:
    """Each digit's box, drawn over the original as shown, is where the digit is in the original's pixels."""
    image = page.locator(".boxed-image img")
    page.wait_for_function("() => document.querySelector('.boxed-image img').naturalWidth > 0")
    shown = image.bounding_box()
    natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    scale = shown["width"] / natural[0]
    assert abs(shown["height"] / natural[1] - scale) < 0.01  # not stretched
    rects = page.locator("[data-testid=digit-boxes] rect")
    samples = list(number.digit_samples.all())
    assert rects.count() == len(samples)
    for rect, sample in zip(rects.all(), samples, strict=True):
        box = rect.bounding_box()
        x, y, w, h = sample.box
        # The stroke (2 CSS px, centred on the edge) widens the box by a pixel each side.
        assert abs(box["x"] - (shown["x"] + x * scale)) <= 2.5, (box, sample.box)
        assert abs(box["y"] - (shown["y"] + y * scale)) <= 2.5, (box, sample.box)
        assert abs(box["width"] - w * scale) <= 3 and abs(box["height"] - h * scale) <= 3, (box, sample.box)


def test_on_a_phone_the_number_page_fits_and_keeps_its_pad_3_to_1(touch_context, live_server, mnist):  # noqa: F811
    context, page = touch_context
    open_number_page(page, live_server, "phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    canvas = bs.canvas_box(page)
    assert canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= PHONE_WIDTH
    assert abs(canvas["width"] / canvas["height"] - 3) < 0.02, canvas

    # Written with a finger: the image sent is the same 840x280, so it reads the same.
    cdp = context.new_cdp_session(page)
    bs.arm_result_probe(page)
    bs.touch_draw(cdp, number_strokes(page))

    assert wait_for_number(page) == "2026"
    assert_crops_shown(page, 4)
    wide = page.evaluate(WIDEST_JS, PHONE_WIDTH - 1.5)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH, wide
    if SCREENSHOTS:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "number-page-phone.png"), full_page=True)


def test_an_uploaded_or_dropped_image_is_read_and_a_blank_one_has_no_digit(page, live_server, tmp_path):
    open_number_page(page, live_server)
    page.get_by_test_id("predict-button").click()
    expect(page.locator("[data-result-error]")).to_have_text("Write a number first.")

    path = tmp_path / "704.png"
    path.write_bytes(number_png("704"))
    bs.arm_result_probe(page)
    page.get_by_test_id("upload-input").set_input_files(path)
    assert wait_for_number(page) == "704"
    assert_crops_shown(page, 3)
    assert the_number().source == "upload"

    # Dropped on the drop area.
    bs.arm_result_probe(page)
    data = page.evaluate_handle(
        """(b64) => { const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                      const dt = new DataTransfer();
                      dt.items.add(new File([bytes], "42.png", { type: "image/png" }));
                      return dt; }""",
        base64.b64encode(number_png("42")).decode(),
    )
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": data})
    assert wait_for_number(page) == "42"

    from PIL import Image

    from recognizer.tests.conftest import png_bytes

    blank = tmp_path / "blank.png"
    blank.write_bytes(png_bytes(Image.new("L", (300, 100), 255)))
    page.get_by_test_id("upload-input").set_input_files(blank)
    expect(page.locator(PANEL)).to_have_attribute("data-state", "error")
    expect(page.locator("[data-result-error]")).to_contain_text("No digit")


def test_several_digits_on_the_draw_page_are_read_as_a_number(page, live_server):
    """ "17" on the Draw page is refused as several digits (the shipped model, as it is); "Read as a number"
    sends the same drawing to /api/v1/numbers/, shows the number and links to its page."""
    sign_up(page, live_server)
    bs.mouse_draw(page, bs.fit_to_box(SEVENTEEN, bs.canvas_box(page)))
    assert wait_for_answer(page) == "not-a-digit"
    expect(page.locator("[data-result-refusal] [data-reason]:visible")).to_have_text("It looks like several digits.")

    page.get_by_role("button", name="Read as a number").click()

    answer = page.locator("[data-number-answer]")
    expect(answer).to_contain_text("Read as a number: 17")
    number = the_number()
    assert (number.predicted_number, number.source) == ("17", "canvas")
    answer.get_by_role("link").click()
    page.wait_for_url(f"**/numbers/{number.pk}/")
    expect(page.get_by_test_id("prediction-number")).to_have_text("17")
    assert_boxes_follow_the_image(page, number)


@pytest.mark.parametrize("audited_context", ["desktop", "phone"], indirect=True)
def test_the_number_pages_have_no_axe_violations_and_fit_a_phone(audited_context, live_server, axe_source, user):  # noqa: F811
    context, page, phone = audited_context
    signed_in(context, live_server, user)
    number = NumberFactory(user=user, predicted_number="2026", digits="2026")
    fixed = NumberFactory(user=user, predicted_number="42", corrected_number="412", segmentation_wrong=True)
    nothing = NumberFactory(user=user, refused=True)
    base = live_server.url
    problems = []
    for path in [
        "/numbers/",
        f"/numbers/{number.pk}/",
        f"/numbers/{fixed.pk}/",
        f"/numbers/{nothing.pk}/",
        f"/numbers/{number.pk}/delete/",
        "/history/?kind=number",
    ]:
        problems += audit(page, axe_source, base + path, phone=phone)

    # With a result filled in by the script, and a correction made.
    page.goto(base + "/numbers/")
    bs.arm_result_probe(page)
    page.get_by_test_id("upload-input").set_input_files(
        {"name": "704.png", "mimeType": "image/png", "buffer": number_png("704")}
    )
    wait_for_number(page)
    problems += audit(page, axe_source, phone=phone)
    page.locator(f"{PANEL} [data-fix-digit][value='1']").click()
    page.locator("[data-correction-state]").filter(has_text="Corrected to").wait_for()
    problems += audit(page, axe_source, phone=phone)
    assert not problems, "\n".join(problems)
