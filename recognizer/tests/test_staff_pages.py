"""Staff pages: curating corrections, the Models page, rollback, retraining and a run's page, for staff only."""

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from ml.report import DigitChange, ModelFigures
from recognizer.models import ModelVersion, ModelVersionEvent, Submission, TrainingRun
from recognizer.selectors import submission_corrections_for_training
from recognizer.templatetags.digitvision import percent
from recognizer.tests.factories import ModelVersionFactory, SubmissionFactory, TrainingRunFactory
from recognizer.views.staff import metric_rows, per_class_table

pytestmark = pytest.mark.django_db

MODELS = reverse("recognizer:staff-models")
RETRAIN = reverse("recognizer:staff-retrain")
CORRECTIONS = reverse("recognizer:staff-corrections")


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _staff_urls(run: TrainingRun, version: ModelVersion) -> list[tuple[str, str]]:
    return [
        ("get", MODELS),
        ("post", RETRAIN),
        ("post", reverse("recognizer:staff-model-activate", args=[version.pk])),
        ("get", reverse("recognizer:staff-training-run", args=[run.pk])),
        ("post", reverse("recognizer:staff-training-run-cancel", args=[run.pk])),
        ("get", reverse("recognizer:training-run-plot", args=[run.pk, 0])),
    ]


class TestAccess:
    def test_non_staff_get_403_everywhere_and_nothing_changes(self, client, user):
        run = TrainingRunFactory(plots=["runs/1/curves.png"])
        version = ModelVersionFactory()
        client.force_login(user)
        for method, url in _staff_urls(run, version):
            assert getattr(client, method)(url).status_code == 403, url
        run.refresh_from_db()
        assert run.state == TrainingRun.State.QUEUED and TrainingRun.objects.count() == 1
        assert not ModelVersionEvent.objects.exists()

    def test_anonymous_are_sent_to_sign_in(self, client):
        run = TrainingRunFactory()
        for method, url in _staff_urls(run, ModelVersionFactory()):
            response = getattr(client, method)(url)
            assert response.status_code == 302, url
            assert response.url.startswith(reverse("login") + "?next="), url

    def test_models_link_in_nav_for_staff_only(self, client, user, staff):
        client.force_login(user)
        assert MODELS.encode() not in client.get(reverse("recognizer:draw")).content
        client.force_login(staff)
        assert MODELS.encode() in client.get(reverse("recognizer:draw")).content


class TestCorrections:
    """Staff see everyone's corrections and decide which retraining uses, or set the right digit."""

    @pytest.fixture
    def corrections(self, user):
        changed = SubmissionFactory(user=user, predicted_digit=7, corrected_digit=1, corrected_by=user)
        confirmed = SubmissionFactory(predicted_digit=3, corrected_digit=3)
        unchecked = SubmissionFactory(predicted_digit=5)
        return changed, confirmed, unchecked

    def _training_ids(self) -> list[int]:
        return list(submission_corrections_for_training().values_list("pk", flat=True))

    def test_lists_everyones_corrections_but_not_unchecked_predictions(self, staff_client, corrections):
        changed, confirmed, unchecked = corrections
        html = staff_client.get(CORRECTIONS).content.decode()
        assert f'data-submission-id="{changed.pk}"' in html and f'data-submission-id="{confirmed.pk}"' in html
        assert f'data-submission-id="{unchecked.pk}"' not in html
        assert "7 → 1" in html and reverse("recognizer:submission-preview", args=[changed.pk]) in html
        only_changed = staff_client.get(CORRECTIONS, {"state": "changed"}).content.decode()
        assert f'data-submission-id="{changed.pk}"' in only_changed
        assert f'data-submission-id="{confirmed.pk}"' not in only_changed
        by_digit = staff_client.get(CORRECTIONS, {"digit": 3}).content.decode()
        assert f'data-submission-id="{confirmed.pk}"' in by_digit
        assert f'data-submission-id="{changed.pk}"' not in by_digit

    def test_a_correction_left_out_is_not_trained_on_until_it_is_used_again(self, staff_client, corrections):
        changed, confirmed, _ = corrections
        url = reverse("recognizer:staff-correction-training", args=[changed.pk])
        back = f"{CORRECTIONS}?state=changed"
        assert self._training_ids() == [changed.pk, confirmed.pk]

        response = staff_client.post(url, {"use": "no", "next": back})

        assert response.status_code == 302 and response.url == back
        assert self._training_ids() == [confirmed.pk]
        changed.refresh_from_db()
        assert changed.excluded_from_training and changed.corrected_digit == 1  # the person's history is unchanged
        excluded = staff_client.get(CORRECTIONS, {"state": "excluded"}).content.decode()
        assert f'data-submission-id="{changed.pk}"' in excluded and 'data-testid="include-button"' in excluded
        assert 'data-testid="used-count">1<' in excluded

        staff_client.post(url, {"use": "yes"})
        assert self._training_ids() == [changed.pk, confirmed.pk]

    def test_staff_set_the_right_digit(self, staff_client, staff, corrections):
        changed, _, _ = corrections
        staff_client.post(reverse("recognizer:staff-correction-digit", args=[changed.pk]), {"digit": 4})
        changed.refresh_from_db()
        assert changed.corrected_digit == 4 and changed.corrected_by == staff
        html = staff_client.get(CORRECTIONS).content.decode()
        assert f"set by {staff.username}" in html

        refused = staff_client.post(reverse("recognizer:staff-correction-digit", args=[changed.pk]), {"digit": 12})
        changed.refresh_from_db()
        assert refused.status_code == 302 and changed.corrected_digit == 4

    def test_an_unchecked_prediction_or_a_foreign_next_address_gets_nowhere(self, staff_client, corrections):
        _, confirmed, unchecked = corrections
        missing = staff_client.post(reverse("recognizer:staff-correction-training", args=[unchecked.pk]), {"use": "no"})
        assert missing.status_code == 404
        unchecked.refresh_from_db()
        assert not unchecked.excluded_from_training
        outside = staff_client.post(
            reverse("recognizer:staff-correction-training", args=[confirmed.pk]),
            {"use": "no", "next": "https://evil.example/"},
        )
        assert outside.url == CORRECTIONS

    def test_people_who_are_not_staff_change_nothing(self, client, user, corrections):
        changed, _, _ = corrections
        client.force_login(user)  # the owner of the correction, but not staff
        for url, data in [
            (CORRECTIONS, None),
            (reverse("recognizer:staff-correction-training", args=[changed.pk]), {"use": "no"}),
            (reverse("recognizer:staff-correction-digit", args=[changed.pk]), {"digit": 2}),
        ]:
            response = client.post(url, data) if data else client.get(url)
            assert response.status_code == 403, url
        changed.refresh_from_db()
        assert changed.corrected_digit == 1 and not changed.excluded_from_training
        assert Submission.objects.filter(excluded_from_training=True).count() == 0


class TestNotADigitCorrections:
    """Both kinds of change, labelled and filtered: a digit corrected to not a digit, and the other way round."""

    @pytest.fixture
    def corrections(self, user):
        to_not_a_digit = SubmissionFactory(user=user, predicted_digit=6, corrected_not_a_digit=True)
        to_digit = SubmissionFactory(user=user, refused=True, corrected_digit=9)
        confirmed = SubmissionFactory(user=user, refused=True, corrected_not_a_digit=True)
        return to_not_a_digit, to_digit, confirmed

    @staticmethod
    def _listed(html: str, *submissions: Submission) -> list[bool]:
        return [f'data-submission-id="{s.pk}"' in html for s in submissions]

    def test_labelled_and_filtered(self, staff_client, corrections):
        to_not_a_digit, to_digit, confirmed = corrections
        html = staff_client.get(CORRECTIONS).content.decode()
        assert self._listed(html, *corrections) == [True, True, True]
        assert "6 → not a digit" in html and "not a digit → 9" in html and "confirmed not a digit" in html
        assert "closest 4 at 31.0%" in html  # a refusal shows how near it came, as it has no confidence

        from_digits = staff_client.get(CORRECTIONS, {"answer": "digit", "true_answer": "not_a_digit"})
        assert self._listed(from_digits.content.decode(), *corrections) == [True, False, False]
        to_digits = staff_client.get(CORRECTIONS, {"answer": "not_a_digit", "true_answer": "digit"})
        assert self._listed(to_digits.content.decode(), *corrections) == [False, True, False]
        changed = staff_client.get(CORRECTIONS, {"state": "changed"}).content.decode()
        assert self._listed(changed, *corrections) == [True, True, False]
        assert 'data-testid="used-count">3<' in html  # all three are trained on

    def test_staff_set_not_a_digit_and_back(self, staff_client, staff, corrections):
        _, to_digit, _ = corrections
        url = reverse("recognizer:staff-correction-digit", args=[to_digit.pk])

        response = staff_client.post(url, {"not_a_digit": "on"}, follow=True)

        to_digit.refresh_from_db()
        assert to_digit.corrected_not_a_digit and to_digit.corrected_digit is None and to_digit.corrected_by == staff
        assert f"Submission #{to_digit.pk} is now labelled not a digit." in _messages(response)
        staff_client.post(url, {"digit": 3})
        to_digit.refresh_from_db()
        assert (to_digit.corrected_digit, to_digit.corrected_not_a_digit) == (3, False)

        both = staff_client.post(url, {"digit": 5, "not_a_digit": "on"}, follow=True)
        to_digit.refresh_from_db()
        assert to_digit.corrected_digit == 3 and "Choose a digit from 0 to 9, or not a digit." in _messages(both)


class TestModelsPage:
    def test_lists_versions_metrics_events_and_runs(self, staff_client, staff, shipped_version):
        child = ModelVersionFactory(name="digitnet-child", parent=shipped_version, created_by=staff)
        run = TrainingRunFactory(
            state=TrainingRun.State.REJECTED, in_flight=None, reason="holdout accuracy fell", requested_by=staff
        )

        response = staff_client.get(MODELS)

        assert response.status_code == 200
        html = response.content.decode()
        assert shipped_version.name in html and child.name in html
        assert percent(shipped_version.metrics["test_accuracy"], 2) in html  # the shipped model's MNIST test accuracy
        assert 'data-testid="active-version"' in html
        assert html.count('data-testid="rollback-button"') == 1  # only the version that is not active
        assert reverse("recognizer:staff-model-activate", args=[child.pk]) in html
        assert reverse("recognizer:staff-training-run", args=[run.pk]) in html
        assert "holdout accuracy fell" in html
        assert "Activated" in html  # the shipped version's activation, from the history
        button = html[html.index('data-testid="retrain-button"') :].split(">", 1)[0]
        assert "disabled" not in button

    def test_retrain_is_disabled_while_a_run_is_in_flight(self, staff_client):
        run = TrainingRunFactory(state=TrainingRun.State.RUNNING, progress=40, step="epoch 2/3")

        html = staff_client.get(MODELS).content.decode()

        button = html[html.index('data-testid="retrain-button"') :].split(">", 1)[0]
        assert "disabled" in button
        assert f"training run #{run.pk}</a>" in html and "one run at a time" in html
        assert 'data-testid="training-step">epoch 2/3<' in html
        assert "training.js" in html  # follows the current run live

    def test_reading_the_page_fails_nothing(self, staff_client, settings):
        """Stale runs are failed by the beat task (recognizer.fail_stale_training_runs), never by a GET."""
        from django.utils import timezone

        long_ago = timezone.now() - timezone.timedelta(seconds=settings.DIGITVISION_TRAINING_STALE_SECONDS + 60)
        run = TrainingRunFactory(state=TrainingRun.State.RUNNING, started_at=long_ago, heartbeat_at=long_ago)
        staff_client.get(MODELS)
        run.refresh_from_db()
        assert run.state == TrainingRun.State.RUNNING


class TestRetrain:
    def test_queues_a_run_and_shows_it(self, staff_client, staff, trainable_corrections):
        response = staff_client.post(RETRAIN)

        run = TrainingRun.objects.get()
        assert (run.state, run.requested_by) == (TrainingRun.State.QUEUED, staff)
        assert response.status_code == 302
        assert response.url == reverse("recognizer:staff-training-run", args=[run.pk])

    def test_a_second_click_while_one_is_in_flight_says_so(self, staff_client, trainable_corrections):
        staff_client.post(RETRAIN)

        response = staff_client.post(RETRAIN, follow=True)

        assert TrainingRun.objects.count() == 1
        assert response.redirect_chain[-1][0] == MODELS
        assert any("already" in message for message in _messages(response))

    def test_queue_unavailable_is_reported(self, staff_client, monkeypatch, shipped_version):
        from recognizer.exceptions import TrainingQueueUnavailableError

        def broker_down(*, requested_by):
            run = TrainingRunFactory(state=TrainingRun.State.FAILED, in_flight=None, reason="broker down")
            raise TrainingQueueUnavailableError(run)

        monkeypatch.setattr("recognizer.views.staff.training_run_start", broker_down)

        response = staff_client.post(RETRAIN, follow=True)

        assert any("task queue cannot be reached" in message for message in _messages(response))

    def test_a_retraining_that_cannot_work_is_refused_with_the_reason(self, staff_client, shipped_version):
        response = staff_client.post(RETRAIN, follow=True)
        assert not TrainingRun.objects.exists()
        assert response.redirect_chain[-1][0] == MODELS
        assert any("retraining cannot work: no corrections" in message for message in _messages(response))


class TestRollback:
    def test_makes_an_earlier_version_active_and_records_it(self, staff_client, staff, untrained_checkpoint):
        from recognizer.services import model_version_register

        old = model_version_register(path=untrained_checkpoint, name="old")
        current = model_version_register(path=settings.DIGITVISION_CHECKPOINT, activate=True)

        response = staff_client.post(
            reverse("recognizer:staff-model-activate", args=[old.pk]), {"reason": "  new one confuses 1 and 7 "}
        )

        assert response.status_code == 302 and response.url == MODELS
        old.refresh_from_db()
        current.refresh_from_db()
        assert old.is_active and not current.is_active
        event = ModelVersionEvent.objects.get(action=ModelVersionEvent.Action.ROLLED_BACK)
        assert (event.version, event.previous, event.by) == (old, current, staff)
        assert event.reason == "new one confuses 1 and 7"
        page = staff_client.get(MODELS).content.decode()
        assert "new one confuses 1 and 7" in page and "Rolled back" in page

    def test_missing_weights_change_nothing_and_say_why(self, staff_client, shipped_version):
        broken = ModelVersionFactory(name="digitnet-gone")

        response = staff_client.post(reverse("recognizer:staff-model-activate", args=[broken.pk]), follow=True)

        shipped_version.refresh_from_db()
        broken.refresh_from_db()
        assert shipped_version.is_active and not broken.is_active
        assert not ModelVersionEvent.objects.filter(action=ModelVersionEvent.Action.ROLLED_BACK).exists()
        [message] = _messages(response)
        assert message.startswith("digitnet-gone was not made active, so nothing changed")

    def test_unknown_version_is_404(self, staff_client):
        assert staff_client.post(reverse("recognizer:staff-model-activate", args=[999])).status_code == 404

    def test_get_is_not_allowed(self, staff_client, shipped_version):
        url = reverse("recognizer:staff-model-activate", args=[shipped_version.pk])
        assert staff_client.get(url).status_code == 405


class TestRunPage:
    def test_in_progress_shows_live_elements_and_cancel(self, staff_client):
        run = TrainingRunFactory(state="running", progress=10, step="epoch 1/3", log=["12:00:00 started"])

        response = staff_client.get(reverse("recognizer:staff-training-run", args=[run.pk]))

        html = response.content.decode()
        for testid in ("training-progress", "training-step", "training-state", "cancel-button"):
            assert f'data-testid="{testid}"' in html
        assert 'data-testid="training-verdict"' not in html
        assert f'data-api-url="/api/v1/training-runs/{run.pk}/"' in html
        assert "12:00:00 started" in html and "10%" in html

    def test_cancel(self, staff_client, staff):
        run = TrainingRunFactory(state="running", progress=10)
        url = reverse("recognizer:staff-training-run-cancel", args=[run.pk])

        response = staff_client.post(url, follow=True)

        run.refresh_from_db()
        assert (run.state, run.in_flight) == (TrainingRun.State.CANCELLED, None)
        assert "cancelled" in _messages(response)[0]
        assert 'data-testid="training-verdict"' in response.content.decode()
        again = staff_client.post(url, follow=True)
        assert "already cancelled" in _messages(again)[0]

    def test_finished_run_shows_verdict_figures_per_class_and_plots(self, staff_client, media_root, shipped_version):
        plot = Path(media_root) / "models/runs/7/curves.png"
        plot.parent.mkdir(parents=True)
        plot.write_bytes(b"\x89PNG\r\n\x1a\n fake")
        run = TrainingRunFactory(
            state=TrainingRun.State.REJECTED,
            in_flight=None,
            reason="holdout accuracy fell",
            base_version=shipped_version,
            train_samples=40,
            holdout_samples=10,
            replay_samples=2000,
            active_metrics={"mnist_test_accuracy": 0.9966, "holdout_accuracy": 0.8, "holdout_correct": 8, "ece": 0.01},
            candidate_metrics={"mnist_test_accuracy": 0.9950, "holdout_accuracy": 0.7, "holdout_correct": 7},
            per_class=[{"digit": 3, "active": 0.991, "candidate": 0.993, "change": 0.002}],
            plots=["models/runs/7/curves.png"],
        )

        html = staff_client.get(reverse("recognizer:staff-training-run", args=[run.pk])).content.decode()

        assert 'data-testid="training-verdict"' in html and "holdout accuracy fell" in html
        assert 'data-testid="cancel-button"' not in html and "training.js" not in html
        assert "99.66%" in html and "99.50%" in html and "-0.16 pp" in html
        assert "-1" in html  # holdout_correct, an int
        assert "0.0100" in html  # ece, only in the active report
        assert "99.30%" in html and "+0.20 pp" in html  # per class
        assert "2000" in html  # replay samples
        plot_url = reverse("recognizer:training-run-plot", args=[run.pk, 0])
        assert f'src="{plot_url}"' in html
        response = staff_client.get(plot_url)
        assert response.status_code == 200 and b"".join(response.streaming_content).endswith(b" fake")
        assert "private" in response["Cache-Control"]

    def test_unknown_run_is_404(self, staff_client):
        assert staff_client.get(reverse("recognizer:staff-training-run", args=[999])).status_code == 404


class TestPlot:
    def test_index_out_of_range_or_missing_file_is_404(self, staff_client):
        run = TrainingRunFactory(plots=["models/runs/1/missing.png"])
        assert staff_client.get(reverse("recognizer:training-run-plot", args=[run.pk, 1])).status_code == 404
        assert staff_client.get(reverse("recognizer:training-run-plot", args=[run.pk, 0])).status_code == 404

    def test_paths_outside_media_are_refused(self, staff_client, tmp_path):
        secret = tmp_path / "secret.png"
        secret.write_bytes(b"secret")
        run = TrainingRunFactory(plots=[str(secret), "../../etc/passwd"])
        for index in (0, 1):
            assert staff_client.get(reverse("recognizer:training-run-plot", args=[run.pk, index])).status_code == 404


class TestFigures:
    """Figures are formatted from ml.report's fields (kind, which way is better), never from key names."""

    def test_metric_rows_follow_the_fields(self):
        active = ModelFigures(mnist_test_accuracy=0.99, mnist_test_ece=0.02, holdout_total=10, holdout_correct=8)
        candidate = ModelFigures(mnist_test_accuracy=0.98, mnist_test_ece=0.01, holdout_total=10, holdout_correct=9)
        rows = metric_rows(active, candidate)
        assert [(r["label"], r["active"], r["candidate"], r["change"], r["trend"]) for r in rows] == [
            ("MNIST test accuracy", "99.00%", "98.00%", "-1.00 pp", "worse"),
            ("MNIST test ECE", "0.0200", "0.0100", "-0.0100", "better"),
            ("Holdout correct", "8", "9", "+1", "better"),
            ("Holdout total", "10", "10", "no change", ""),
        ]

    def test_a_figure_only_one_model_has(self):
        (row,) = metric_rows(ModelFigures(), ModelFigures(temperature=0.5))
        assert (row["key"], row["active"], row["candidate"], row["change"], row["trend"]) == (
            "temperature",
            "—",
            "0.5000",
            "",
            "",
        )

    def test_per_class_table(self):
        row = DigitChange(
            digit=7,
            test_count=1028,
            test_recall_active=0.995,
            test_recall_candidate=0.996,
            test_recall_change_pts=0.1,
            holdout_count=4,
            holdout_correct_active=2,
            holdout_correct_candidate=3,
            holdout_change=1,
        )
        table = per_class_table([row])
        assert table["columns"][:4] == ["Digit", "Test count", "Test recall active", "Test recall candidate"]
        texts = [c["text"] for c in table["rows"][0]]
        assert texts == ["7", "1,028", "99.50%", "99.60%", "+0.10 pp", "4", "2", "3", "+1"]
        assert [c["trend"] for c in table["rows"][0]][4::4] == ["better", "better"]

    def test_legacy_rows_read_through_the_adapters(self):
        old = DigitChange.from_dict({"digit": 1, "active": 0.5, "change": -0.1})
        assert (old.test_recall_active, old.test_recall_change_pts) == (0.5, -10.0)
        cells = per_class_table([old])["rows"][0]
        assert cells[0]["text"] == "1" and cells[2]["text"] == "50.00%"
        assert cells[4] == {"text": "-10.00 pp", "trend": "worse"}
        assert ModelFigures.from_dict({"ece": 0.01, "junk": 1}).mnist_test_ece == 0.01


def test_the_corrections_page_counts_numbers_whose_digits_were_found_wrong(staff_client):
    from recognizer.services.numbers import number_correct
    from recognizer.tests.factories import NumberFactory

    right, wrong, uncorrected = NumberFactory(), NumberFactory(), NumberFactory()  # each "42", two digits
    number_correct(submission=right, user=right.user, true_number="47")  # as many digits: both train
    number_correct(submission=wrong, user=wrong.user, true_number="421")  # another count: none trains
    assert uncorrected.digit_samples.count() == 2

    html = staff_client.get(CORRECTIONS).content.decode()
    figure = html[html.index('data-testid="number-corrections"') :].split("</p>", 1)[0]
    assert "<strong>2</strong> corrected" in figure
    assert 'data-testid="segmentation-wrong">1<' in figure and "(50.0%)" in figure
    assert "<strong>2</strong> digits of corrected numbers" in figure


class TestVersionsOnCorrections:
    """Each version's figure on what people really send: of the single digits it read that were corrected, how
    many corrections confirm its answer."""

    def test_counts_only_its_own_corrected_digits_and_the_confirmations_among_them(self, staff_client):
        from recognizer.selectors import model_version_list_with_corrections
        from recognizer.tests.factories import NumberFactory

        served, unused = ModelVersionFactory(), ModelVersionFactory()
        SubmissionFactory(model_version=served, predicted_digit=3, corrected_digit=3)  # confirmed
        SubmissionFactory(model_version=served, predicted_digit=3, corrected_digit=8)  # wrong
        SubmissionFactory(model_version=served, predicted_digit=5, corrected_not_a_digit=True)  # wrong
        SubmissionFactory(model_version=served, refused=True, corrected_not_a_digit=True)  # a confirmed refusal
        SubmissionFactory(model_version=served, predicted_digit=1)  # nobody corrected it: not counted
        NumberFactory(model_version=served, corrected_number="12")  # numbers are not digits' figures
        figures = {v.pk: (v.corrections_right, v.corrections_seen) for v in model_version_list_with_corrections()}
        assert figures[served.pk] == (2, 4) and figures[unused.pk] == (0, 0)

        html = staff_client.get(MODELS).content.decode()
        row = html[html.index(f'data-version="{served.name}"') :]
        assert "2 of 4 right" in row[: row.index("</tr>")] and "(50%)" in row[: row.index("</tr>")]
        unused_row = html[html.index(f'data-version="{unused.name}"') :]
        assert "no corrections yet" in unused_row[: unused_row.index("</tr>")]
