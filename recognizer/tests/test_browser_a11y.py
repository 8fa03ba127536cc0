"""Every page, people's and staff's, error pages included, on a desktop and on a phone: no axe-core violations,
and nothing wider than a 390 px screen."""

import hashlib
import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import Client

from recognizer.tests.factories import SubmissionFactory, TrainingRunFactory, UserFactory

# The module-scoped `browser` fixture is test_browser's: imported, it gives this module its own Chromium.
from recognizer.tests.test_browser import ARTIFACTS, _close, _context_page, browser  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
PHONE_WIDTH = 390
# WCAG 2.1 A and AA, and axe's best practices (landmarks, headings, scroll regions).
# The elements that reach past the screen's right edge, not counting those inside a scroll region.
WIDEST_JS = """width => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > width + 1 && !e.parentElement.closest('.table-wrap'))
    .map(e => `${e.tagName.toLowerCase()}.${e.className} (${Math.round(e.getBoundingClientRect().right)} px)`)
    .slice(0, 8)"""
# DIGITVISION_SCREENSHOTS=1: each audited page saved to test-artifacts/, to look at.
SCREENSHOTS = bool(os.environ.get("DIGITVISION_SCREENSHOTS"))
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def _makefile_value(name: str) -> str:
    """The pinned axe-core version and hash live in one place: the Makefile's `test-assets` step."""
    makefile = (Path(settings.BASE_DIR) / "Makefile").read_text()
    return re.search(rf"^{name}\s*:=\s*(\S+)", makefile, re.MULTILINE).group(1)


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The local copy `make test-assets` unpacked (npm pack axe-core@<pinned>), checked against its pinned hash."""
    version, sha256 = _makefile_value("AXE_VERSION"), _makefile_value("AXE_SHA256")
    path = Path(settings.BASE_DIR) / ".test-assets" / f"axe-core-{version}.min.js"
    if not path.exists():
        reason = f"{path.name} is missing: run `make test-assets` (npm pack axe-core@{version}, checksummed)"
        if os.environ.get("CI") or os.environ.get("DIGITVISION_REQUIRE_TEST_ASSETS"):
            pytest.fail(reason)
        pytest.skip(reason)
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha256, f"{path} does not match the pinned sha256; delete it"
    return data.decode()


def signed_in(context, live_server, user) -> None:
    """The browser context carries a session of `user` (the sign-in form itself is tested elsewhere)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def audit(page, axe_source: str, url: str | None = None, *, phone: bool) -> list[str]:
    """axe-core's violations on the page at `url` (else the one loaded), and its width on a phone, as lines."""
    if url is not None:
        page.goto(url)
    page.wait_for_load_state("load")
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    if SCREENSHOTS:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", page.url.split("/", 3)[-1]) or "root"
        page.screenshot(path=str(ARTIFACTS / f"a11y-{'phone' if phone else 'desktop'}-{name}.png"), full_page=True)
    problems = [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(" ".join(node["target"]) + " " + node.get("failureSummary", "") for node in v["nodes"][:3])
        for v in result["violations"]
    ]
    if phone:
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE_WIDTH:
            wide = page.evaluate(WIDEST_JS, PHONE_WIDTH)
            problems.append(f"{page.url}: {width} px wide on a {PHONE_WIDTH} px phone; too wide: {wide}")
    return problems


def served_as(page, url: str, html: str, status: int) -> None:
    """A page Django renders outside a request (500.html, 503.html) served at `url`, its CSS from the server."""
    page.route(url, lambda route: route.fulfill(status=status, body=html, content_type="text/html; charset=utf-8"))


@pytest.fixture
def audited_context(request, browser, shipped_version):  # noqa: F811 - the imported fixture
    # axe is injected as a script tag, which the pages' CSP forbids: this context alone bypasses it.
    phone = request.param == "phone"
    context, page = _context_page(browser, bypass_csp=True, **(PHONE if phone else DESKTOP))
    yield context, page, phone
    _close(context, page)


@pytest.mark.parametrize("audited_context", ["desktop", "phone"], indirect=True)
def test_peoples_pages_have_no_axe_violations_and_fit_a_phone(audited_context, live_server, axe_source, settings):
    context, page, phone = audited_context
    base = live_server.url
    problems = []
    for path in [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password_reset/",
        "/accounts/password_reset/done/",
    ]:
        problems += audit(page, axe_source, base + path, phone=phone)

    # Errors shown on the forms themselves.
    page.goto(base + "/accounts/signup/")
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=password1]", "short")
    page.fill("input[name=password2]", "short")
    page.locator("form.stack-form button[type=submit]").click()
    page.wait_for_load_state("load")
    problems += audit(page, axe_source, page.url, phone=phone)

    person = UserFactory(username="ada")
    signed_in(context, live_server, person)
    submission = SubmissionFactory(user=person, confidence=0.9996)
    SubmissionFactory(user=person, source="upload", corrected_digit=3)
    refused = SubmissionFactory(user=person, refused=True, refusal_reason="looks like several digits")
    SubmissionFactory(user=person, refused=True, corrected_not_a_digit=True)
    SubmissionFactory(user=person, corrected_not_a_digit=True)
    other = SubmissionFactory()
    for path in [
        "/",
        "/upload/",
        "/history/",
        "/history/?digit=7&source=upload",
        "/history/?answer=not_a_digit&true_answer=digit",
        f"/submissions/{submission.pk}/",
        f"/submissions/{refused.pk}/",
        f"/submissions/{refused.pk}/delete/",
        f"/submissions/{submission.pk}/delete/",
        "/accounts/password_change/",
        "/accounts/delete/",
        f"/submissions/{other.pk}/",  # someone else's: 404
        "/no-such-page/",
        "/staff/models/",  # not staff: 403
    ]:
        problems += audit(page, axe_source, base + path, phone=phone)

    # After a recognition, the result panel filled in.
    page.goto(base + "/upload/")
    page.get_by_test_id("upload-input").set_input_files(_digit_file())
    page.get_by_test_id("prediction-digit").wait_for()
    page.locator("[data-result-panel][data-state=ready]").wait_for()
    problems += audit(page, axe_source, page.url, phone=phone)

    # Pages Django renders without a request: 500 (empty context) and 503 (the database is down).
    served_as(page, base + "/__500__", render_to_string("500.html"), 500)
    problems += audit(page, axe_source, base + "/__500__", phone=phone)
    served_as(page, base + "/__503__", render_to_string("503.html", {"message": "The database is down."}), 503)
    problems += audit(page, axe_source, base + "/__503__", phone=phone)

    # The sign-in lockout (django-axes): one failure too many.
    context.clear_cookies()
    settings.AXES_FAILURE_LIMIT = 1
    for _ in range(2):
        page.goto(base + "/accounts/login/")
        page.fill("input[name=username]", "ada")
        page.fill("input[name=password]", "wrong password")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.locator("form.stack-form button[type=submit]").click()
    assert answer.value.status == 429
    problems += audit(page, axe_source, phone=phone)

    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("audited_context", ["desktop", "phone"], indirect=True)
def test_a_refusal_in_the_result_panel_has_no_axe_violations_and_fits_a_phone(
    audited_context, live_server, axe_source, refusing_model, user
):
    """ "Not a digit" on the Upload page and on the Draw page (and its compact answer above the canvas on a
    phone), after a correction too."""
    context, page, phone = audited_context
    signed_in(context, live_server, user)
    page.goto(live_server.url + "/upload/")
    page.get_by_test_id("upload-input").set_input_files(_digit_file())
    page.locator("[data-result-panel][data-state=ready][data-answer=not-a-digit]").wait_for()
    problems = audit(page, axe_source, phone=phone)
    page.locator("[data-result-panel] [data-digit-button][value='1']").click()
    page.locator("[data-correction-state]").filter(has_text="Corrected to 1").wait_for()
    problems += audit(page, axe_source, phone=phone)

    page.goto(live_server.url + "/")
    box = page.get_by_test_id("draw-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7, steps=12)
    page.mouse.up()
    page.locator("[data-result-panel][data-state=ready][data-answer=not-a-digit]").wait_for()
    if phone:
        assert page.locator("[data-result-compact] .pad-result-refusal").is_visible()
    problems += audit(page, axe_source, phone=phone)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("audited_context", ["desktop", "phone"], indirect=True)
def test_staff_pages_have_no_axe_violations_and_fit_a_phone(
    audited_context, live_server, axe_source, staff, shipped_version
):
    context, page, phone = audited_context
    signed_in(context, live_server, staff)
    SubmissionFactory(corrected_digit=4, predicted_digit=9)
    SubmissionFactory(corrected_digit=1, predicted_digit=7, model_version=shipped_version)
    SubmissionFactory(predicted_digit=3, confidence=0.42, model_version=shipped_version)  # the review queue's
    SubmissionFactory(refused=True, model_version=shipped_version)
    run = TrainingRunFactory(
        state="rejected",
        in_flight=None,
        reason="holdout accuracy fell",
        requested_by=staff,
        correction_outcomes=_outcomes(),
    )
    running = TrainingRunFactory(state="running", progress=40, step="epoch 2/3", requested_by=staff)
    problems = []
    for path in [
        "/staff/review/",
        "/staff/corrections/",
        "/staff/models/",
        f"/staff/training-runs/{run.pk}/",
        f"/staff/training-runs/{running.pk}/",
    ]:
        problems += audit(page, axe_source, live_server.url + path, phone=phone)
    assert not problems, "\n".join(problems)


def _outcomes() -> list[dict]:
    """A run's outcomes with every kind of item its page shows: a single digit's input, a number's digit's,
    one deleted since, "not a digit", and more than the page shows of one answer."""
    from ml.report import CorrectionOutcome
    from recognizer.services.training_runs import training_correction_key, training_digit_sample_key
    from recognizer.tests.factories import NumberFactory

    single = SubmissionFactory(predicted_digit=1, corrected_digit=7).pk
    number = NumberFactory(predicted_number="12").pk
    scribble = SubmissionFactory(predicted_digit=3, corrected_not_a_digit=True).pk
    rows = [
        (training_correction_key(single), 7, "holdout", 1, 7),
        (training_digit_sample_key(submission_id=number, position=1), 3, "train", 2, 2),
        (training_correction_key(10**6), 7, "train", 1, 1),  # deleted since
        (training_correction_key(scribble), -1, "selection", 3, -1),
        *((training_correction_key(single), 5, "train", 1, 5) for _ in range(30)),
    ]
    return [CorrectionOutcome(*row).to_dict() for row in rows]


def _digit_file() -> dict:
    from PIL import Image, ImageDraw

    from recognizer.tests.conftest import png_bytes

    image = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(image).line([(100, 30), (100, 170)], fill=0, width=18)
    return {"name": "one.png", "mimeType": "image/png", "buffer": png_bytes(image)}


# Non-text contrast (WCAG 1.4.11), which axe does not measure: input borders and the focus ring against the
# card, and the canvas hint (text) against the canvas.
CONTRAST_JS = """() => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const input = document.querySelector("input[name=password]");
  input.focus();
  const style = getComputedStyle(input);
  const card = getComputedStyle(input.closest(".card")).backgroundColor;
  return {border: ratio(style.borderTopColor, card), focus: ratio(style.outlineColor, card)};
}"""


@pytest.mark.parametrize("audited_context", ["desktop"], indirect=True)
def test_controls_and_the_focus_ring_contrast_with_their_background(audited_context, live_server, user):
    context, page, _ = audited_context
    page.goto(f"{live_server.url}/accounts/login/")
    page.keyboard.press("Tab")  # keyboard focus, so :focus-visible applies
    ratios = page.evaluate(CONTRAST_JS)
    assert ratios["border"] >= 3 and ratios["focus"] >= 3, ratios
    signed_in(context, live_server, user)
    page.goto(live_server.url + "/")
    hint = page.evaluate(
        """() => [getComputedStyle(document.querySelector("[data-canvas-hint]")).color,
                  getComputedStyle(document.querySelector(".draw-canvas")).backgroundColor]"""
    )
    assert _contrast(*hint) >= 4.5, hint


def _contrast(a: str, b: str) -> float:
    def luminance(color: str) -> float:
        channels = [float(v) / 255 for v in re.findall(r"[\d.]+", color)[:3]]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted([luminance(a), luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)
