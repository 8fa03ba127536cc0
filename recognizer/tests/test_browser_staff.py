"""Real-browser test of the staff pages: a training run's progress updates live, then its verdict shows."""

import pytest
from playwright.sync_api import expect

from recognizer.tests.factories import TrainingRunFactory

# The module-scoped `browser` fixture is test_browser's: imported, it gives this module its own Chromium.
from recognizer.tests.test_browser import _close, _context_page, _screenshot_on_failure, browser  # noqa: F401

PASSWORD = "correct horse battery staple"  # UserFactory's

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(request, browser, shipped_version):  # noqa: F811 - the imported fixture
    context, page = _context_page(browser, viewport={"width": 1100, "height": 900})
    yield page
    _screenshot_on_failure(request, page)
    _close(context, page)


def sign_in(page, live_server, username: str, next_path: str) -> None:
    """Through the real sign-in form."""
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form.stack-form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}{next_path}")


def test_training_run_progress_updates_live_then_shows_the_verdict(page, live_server, staff):
    from django.urls import reverse
    from django.utils import timezone

    from recognizer.models import TrainingRun

    models_url = reverse("recognizer:staff-models")
    sign_in(page, live_server, staff.username, models_url)

    assert page.get_by_role("link", name="Models").get_attribute("aria-current") == "page"
    assert page.get_by_test_id("retrain-button").is_enabled()

    run = TrainingRunFactory(state="running", progress=10, step="epoch 1/3", requested_by=staff)
    page.reload()
    assert page.get_by_test_id("retrain-button").is_disabled()  # one run at a time

    page.goto(f"{live_server.url}{reverse('recognizer:staff-training-run', args=[run.pk])}")
    assert page.get_by_test_id("training-step").inner_text() == "epoch 1/3"
    assert page.get_by_test_id("training-progress").inner_text().strip() == "10%"
    assert page.get_by_test_id("cancel-button").is_visible()
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    TrainingRun.objects.filter(pk=run.pk).update(progress=60, step="epoch 2/3", log=["12:00:01 epoch 2/3"])

    # Locator expectations, not wait_for_function: that evaluates a string, which the pages' CSP forbids.
    expect(page.get_by_test_id("training-step")).to_contain_text("epoch 2/3")
    expect(page.get_by_test_id("training-progress")).to_contain_text("60%")
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("[data-training-log]").inner_text() == "12:00:01 epoch 2/3"
    assert page.get_by_test_id("training-state").inner_text() == "Running"

    TrainingRun.objects.filter(pk=run.pk).update(
        state="rejected", in_flight=None, reason="holdout accuracy fell", progress=100, finished_at=timezone.now()
    )

    verdict = page.get_by_test_id("training-verdict")
    verdict.wait_for()
    assert "holdout accuracy fell" in verdict.inner_text()
    assert page.get_by_test_id("training-state").inner_text() == "Rejected"
    assert page.get_by_test_id("cancel-button").count() == 0
