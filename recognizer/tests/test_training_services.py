"""Training-run services with the ml step replaced by a stand-in: states, single flight, refusal, verdicts, faults."""

import types
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from ml import data as mnist
from ml.report import ModelMetrics, RetrainCounts, correction_outcomes, evaluation, retrain_verdict
from ml.retrain import RetrainError, RetrainTimeout, split_key_is_holdout
from ml.retrain.pipeline import RetrainResult
from recognizer.exceptions import TrainingInProgressError, TrainingNotPossibleError
from recognizer.models import ModelVersion, ModelVersionEvent, TrainingRun
from recognizer.services import training_execution, training_runs
from recognizer.services.training_execution import training_run_execute
from recognizer.services.training_runs import training_run_cancel, training_run_fail_stale, training_run_start
from recognizer.tests.factories import SubmissionFactory


def fake_outcomes(corrections):
    """What each model answers to each correction: the active model wrong on all, the candidate right on every
    other one (learnt) and wrong on the rest (still wrong)."""
    labels = corrections.labels
    candidate = np.where(np.arange(len(labels)) % 2 == 0, labels, (labels + 2) % 10)
    return correction_outcomes(
        keys=corrections.keys,
        labels=labels,
        parts=["holdout" if split_key_is_holdout(key) else "train" for key in corrections.keys],
        active=(labels + 1) % 10,
        candidate=candidate,
    )


def _figures(correct: int, total: int, labels: list[int]):
    labels = np.asarray(labels)
    predicted = labels.copy()
    predicted[: total - correct] = (labels[: total - correct] + 1) % 10
    return evaluation(np.eye(10)[predicted], labels)


class FakePipeline:
    """Stands in for ml.retrain.pipeline: records what it was given and answers with a canned verdict."""

    def __init__(self, untrained_checkpoint: Path) -> None:
        self.checkpoint = untrained_checkpoint
        self.verdict = "promote"
        self.raises: Exception | None = None
        self.calls: list[dict] = []

    def retrain(self, *, base_checkpoint_path, corrections, out_dir, config, progress):
        self.calls.append({"corrections": corrections, "base": base_checkpoint_path, "config": config})
        out_dir.mkdir(parents=True, exist_ok=True)
        progress(10.0, "fine-tuning: epoch 1/3")
        progress(80.0, "evaluating candidate and active model")
        if self.raises:
            raise self.raises
        candidate = out_dir / "candidate.pt"
        candidate.write_bytes(self.checkpoint.read_bytes())
        plot = out_dir / "confusion_matrix.png"
        plot.write_bytes(b"png")
        test = _figures(96, 100, [d % 10 for d in range(100)])
        holdout = _figures(2, 2, [1, 2])
        # The real result and report classes, so this stand-in cannot drift from what ml.retrain returns.
        return RetrainResult(
            verdict=retrain_verdict(
                verdict=self.verdict,
                reason=f"{self.verdict}: MNIST test 96.00% -> 96.00%; holdout 2/2 -> 2/2",
                candidate_test=test,
                candidate_holdout=holdout,
                active_test=test,
                active_holdout=holdout,
                candidate_val_accuracy=0.996,
                active_val_accuracy=0.995,
                candidate_temperature=0.5,
                active_temperature=0.6,
                counts=RetrainCounts(
                    corrections=10, train=7, selection=1, holdout=2, replay=256, validation=5000, test=100
                ),
                outcomes=fake_outcomes(corrections),
            ),
            metrics=ModelMetrics(test_accuracy=0.96, verdict=self.verdict),
            timings={"fine_tune_s": 1.0, "evaluate_s": 1.0, "total_s": 2.0},
            log=["fine-tuned 1 epoch"],
            candidate_path=candidate,
            candidate_sha256="0" * 64,
            onnx_path=candidate.with_suffix(".onnx"),
            plot_paths=[plot],
            parent_sha256="1" * 64,
        )


@pytest.fixture
def fake_ml(monkeypatch, untrained_checkpoint) -> FakePipeline:
    fake = FakePipeline(untrained_checkpoint)
    monkeypatch.setattr(training_execution, "_ml_retrain", lambda: fake)
    return fake


def run_queued(staff) -> TrainingRun:
    return training_run_start(requested_by=staff, enqueue=False)


class TestStart:
    def test_staff_only(self, user, shipped_version):
        with pytest.raises(PermissionDenied):
            training_run_start(requested_by=user)
        assert not TrainingRun.objects.exists()

    def test_one_in_flight_at_a_time(self, staff, trainable_corrections):
        first = run_queued(staff)
        with pytest.raises(TrainingInProgressError, match=f"#{first.pk} is already queued"):
            run_queued(staff)
        assert TrainingRun.objects.count() == 1

    def test_queues_the_task_by_name_once_committed(
        self, staff, trainable_corrections, django_capture_on_commit_callbacks, monkeypatch
    ):
        sent = []

        def send_task(name, **kw):
            sent.append({"name": name, **kw})
            return types.SimpleNamespace(id="t1")

        monkeypatch.setattr(training_runs.current_app, "send_task", send_task)
        with django_capture_on_commit_callbacks(execute=True):
            run = training_run_start(requested_by=staff)
        assert sent == [
            {
                "name": "recognizer.retrain",
                "args": [run.pk],
                "queue": settings.DIGITVISION_TRAINING_QUEUE,
                "retry_policy": settings.DIGITVISION_TASK_PUBLISH_RETRY,
            }
        ]
        run.refresh_from_db()
        assert (run.state, run.task_id) == ("queued", "t1")


class TestExecute:
    def test_promotes_atomically_and_records_everything(self, staff, trainable_corrections, shipped_version, fake_ml):
        run = run_queued(staff)
        run = training_run_execute(run_id=run.pk)

        assert run.state == "promoted" and run.in_flight is None and run.progress == 100
        (call,) = fake_ml.calls
        n = len(trainable_corrections)
        assert sorted(call["corrections"].labels.tolist()) == sorted(d % 10 for d in range(n))
        assert call["corrections"].images.shape == (n, 28, 28)
        assert len(set(call["corrections"].keys)) == n
        assert call["config"].time_limit_s == settings.DIGITVISION_TRAINING_TIME_LIMIT
        new = ModelVersion.objects.get(is_active=True)
        assert new == run.candidate_version and new.parent == shipped_version and new.created_by == staff
        assert new.metrics["training_run"] == run.pk and new.metrics["schema"] == 1
        event = ModelVersionEvent.objects.get(training_run=run)
        assert (event.action, event.previous, event.by) == ("promoted", shipped_version, staff)
        assert (run.train_samples, run.selection_samples, run.holdout_samples, run.replay_samples) == (7, 1, 2, 256)
        assert run.candidate_metrics["mnist_test_accuracy"] == 0.96 and run.active_metrics["holdout_total"] == 2
        assert run.candidate_metrics["schema"] == 1 and run.active_metrics["temperature"] == 0.6
        assert [row["digit"] for row in run.per_class] == list(range(10))
        assert run.plots == [f"models/runs/{run.pk}/confusion_matrix.png"]
        assert any("fine-tuned" in line for line in run.log)
        assert run.correction_outcomes == [o.to_dict() for o in fake_outcomes(call["corrections"])]
        assert [o["key"] for o in run.correction_outcomes] == call["corrections"].keys
        assert {o["outcome"] for o in run.correction_outcomes} == {"learnt", "still_wrong"}

    def test_a_rejected_candidate_changes_nothing(self, staff, trainable_corrections, shipped_version, fake_ml):
        fake_ml.verdict = "reject"
        run = training_run_execute(run_id=run_queued(staff).pk)
        assert run.state == "rejected" and run.reason.startswith("reject")
        assert list(ModelVersion.objects.filter(is_active=True)) == [shipped_version]
        assert ModelVersion.objects.count() == 1
        folder = Path(settings.MEDIA_ROOT) / run.artifacts_dir
        assert not list(folder.glob("*.pt")) and list(folder.glob("*.png"))  # plots kept to explain the verdict
        assert len(run.correction_outcomes) == len(trainable_corrections)  # kept to explain it too

    @pytest.mark.parametrize(
        "error, reason",
        [
            ("timeout", "over its time limit"),
            ("error", "no corrections"),
            ("crash", "unexpected error: ZeroDivisionError"),
        ],
    )
    def test_failures_leave_no_files_and_no_new_model(
        self, staff, trainable_corrections, shipped_version, fake_ml, error, reason
    ):
        fake_ml.raises = {
            "timeout": RetrainTimeout("slow"),
            "error": RetrainError("no corrections to learn from"),
            "crash": ZeroDivisionError("oops"),
        }[error]
        run = training_run_execute(run_id=run_queued(staff).pk)
        assert run.state == "failed" and reason in run.reason and run.in_flight is None
        assert ModelVersion.objects.count() == 1 and ModelVersion.objects.get(is_active=True) == shipped_version
        assert not (Path(settings.MEDIA_ROOT) / run.artifacts_dir).exists()

    def test_missing_active_weights_fail_the_run(self, staff, trainable_corrections, fake_ml, monkeypatch):
        from recognizer.exceptions import ModelWeightsError

        def refuse(version):
            raise ModelWeightsError(f"weights of model version {version.name} not found")

        monkeypatch.setattr(training_execution, "model_version_verified_path", refuse)
        run = training_run_execute(run_id=run_queued(staff).pk)
        assert run.state == "failed" and "not found" in run.reason and not fake_ml.calls

    def test_the_active_model_changing_meanwhile_means_no_promotion(
        self, staff, trainable_corrections, shipped_version, fake_ml, untrained_checkpoint, monkeypatch
    ):
        from recognizer.services import model_version_register

        real = fake_ml.retrain

        def rollback_during_training(**kwargs):
            result = real(**kwargs)
            other = model_version_register(path=untrained_checkpoint, name="hand-picked")
            ModelVersion.objects.update(is_active=False)
            ModelVersion.objects.filter(pk=other.pk).update(is_active=True)
            return result

        monkeypatch.setattr(fake_ml, "retrain", rollback_during_training)
        run = training_run_execute(run_id=run_queued(staff).pk)
        assert run.state == "rejected" and "changed to hand-picked" in run.reason

    def test_progress_moves_the_run_to_evaluating(self, staff, trainable_corrections):
        run = run_queued(staff)
        training_execution._claim(run.pk)
        training_execution._Progress(run.pk)(80.0, "evaluating candidate")
        run.refresh_from_db()
        assert (run.state, run.progress, run.step) == ("evaluating", 80.0, "evaluating candidate")
        assert run.heartbeat_at is not None

    def test_cancel_stops_a_running_run(self, staff, trainable_corrections, shipped_version, fake_ml, monkeypatch):
        real = fake_ml.retrain

        def cancelled_midway(**kwargs):
            training_run_cancel(run=TrainingRun.objects.get(), by=staff)
            return real(**kwargs)

        monkeypatch.setattr(fake_ml, "retrain", cancelled_midway)
        run = training_run_execute(run_id=run_queued(staff).pk)
        assert run.state == "cancelled" and ModelVersion.objects.count() == 1
        assert not (Path(settings.MEDIA_ROOT) / run.artifacts_dir).exists()

    def test_a_redelivered_run_is_failed_not_resumed(self, staff, trainable_corrections, fake_ml):
        """acks_late gives a killed worker's task to another worker; it must not train from a half-done state."""
        run = run_queued(staff)
        training_execution._claim(run.pk)  # the first worker took it, then died
        run = training_run_execute(run_id=run.pk)
        assert run.state == "failed" and "stopped before it finished" in run.reason and not fake_ml.calls

    def test_a_finished_run_is_left_alone(self, staff, trainable_corrections, fake_ml):
        run = run_queued(staff)
        training_run_cancel(run=run, by=staff)
        assert training_run_execute(run_id=run.pk).state == "cancelled" and not fake_ml.calls


class TestStale:
    def test_silent_running_and_long_queued_runs_fail(self, staff, trainable_corrections, settings):
        run = run_queued(staff)
        training_execution._claim(run.pk)
        TrainingRun.objects.filter(pk=run.pk).update(
            heartbeat_at=timezone.now() - timedelta(seconds=settings.DIGITVISION_TRAINING_STALE_SECONDS + 1)
        )
        assert [r.pk for r in training_run_fail_stale()] == [run.pk]
        run.refresh_from_db()
        assert run.state == "failed" and "stopped reporting progress" in run.reason

        queued = run_queued(staff)
        TrainingRun.objects.filter(pk=queued.pk).update(
            created_at=timezone.now() - timedelta(seconds=settings.DIGITVISION_TRAINING_QUEUE_TIMEOUT + 1)
        )
        assert [r.pk for r in training_run_fail_stale()] == [queued.pk]
        assert "is a Celery worker running?" in TrainingRun.objects.get(pk=queued.pk).reason

    def test_a_live_run_is_not_stale(self, staff, trainable_corrections):
        run = run_queued(staff)
        training_execution._claim(run.pk)
        assert training_run_fail_stale() == []

    def test_the_beat_task_fails_stale_runs(self, staff, trainable_corrections, settings):
        from digitvision_site.celery import app
        from recognizer.tasks import fail_stale_training_runs_task

        schedule = app.conf.beat_schedule["fail-stale-training-runs"]
        assert schedule["task"] == fail_stale_training_runs_task.name and schedule["schedule"] <= 60
        queued = run_queued(staff)
        TrainingRun.objects.filter(pk=queued.pk).update(
            created_at=timezone.now() - timedelta(seconds=settings.DIGITVISION_TRAINING_QUEUE_TIMEOUT + 1)
        )
        assert fail_stale_training_runs_task() == [queued.pk]


def test_corrections_come_from_the_stored_inputs(trainable_corrections):
    corrections, skipped = training_execution.training_corrections()
    assert corrections.images.dtype == np.float32 and corrections.images.max() <= 1.0
    assert skipped == []
    first = trainable_corrections[0]
    first.input_image.storage.delete(first.input_image.name)
    corrections, skipped = training_execution.training_corrections()
    assert len(corrections.labels) == len(trainable_corrections) - 1 and "unreadable" in skipped[0]


def test_corrections_to_not_a_digit_are_labelled_not_a_digit(db):
    """A digit corrected to "not a digit" and a confirmed refusal train as NOT_A_DIGIT_LABEL; a refusal
    corrected to a digit trains as that digit; uncorrected and left-out submissions not at all."""
    from ml.refusal import NOT_A_DIGIT_LABEL
    from recognizer.services.training_runs import training_correction_key

    made = [
        SubmissionFactory(predicted_digit=1, corrected_not_a_digit=True),
        SubmissionFactory(refused=True, corrected_not_a_digit=True),
        SubmissionFactory(refused=True, corrected_digit=6),
        SubmissionFactory(predicted_digit=2, corrected_digit=7),
    ]
    SubmissionFactory(refused=True)  # not corrected
    SubmissionFactory(refused=True, corrected_not_a_digit=True, excluded_from_training=True)

    corrections, skipped = training_execution.training_corrections()

    assert skipped == []
    assert corrections.labels.tolist() == [NOT_A_DIGIT_LABEL, NOT_A_DIGIT_LABEL, 6, 7]
    assert corrections.keys == [training_correction_key(s.pk) for s in made]
    assert corrections.images.shape == (4, 28, 28)


class TestRefusal:
    """A retraining that cannot work is refused before a run exists."""

    def test_no_corrections(self, staff, shipped_version):
        SubmissionFactory(model_version=shipped_version)  # not corrected: not training data
        with pytest.raises(TrainingNotPossibleError, match="no corrections to learn from") as caught:
            run_queued(staff)
        assert (caught.value.code, caught.value.status) == ("training_not_possible", 422)
        assert not TrainingRun.objects.exists()

    def test_an_empty_holdout(self, staff, shipped_version):
        from ml.retrain import split_key_is_holdout

        made = []
        while len(made) < 3:
            submission = SubmissionFactory(model_version=shipped_version, corrected_digit=1)
            if split_key_is_holdout(training_runs.training_correction_key(submission.pk)):
                submission.delete()
            else:
                made.append(submission)
        with pytest.raises(TrainingNotPossibleError, match="none of the 3 corrections fell in the holdout"):
            run_queued(staff)
        assert not TrainingRun.objects.exists()

    def test_mnist_missing_and_unreachable(self, staff, trainable_corrections, monkeypatch):
        monkeypatch.setattr(mnist, "missing_files", lambda root: ["t10k-images-idx3-ubyte"])
        monkeypatch.setattr(mnist, "sources_unreachable", lambda: "no network")
        with pytest.raises(TrainingNotPossibleError, match="MNIST is missing .* cannot be fetched: no network"):
            run_queued(staff)
        monkeypatch.setattr(mnist, "sources_unreachable", lambda: None)  # fetchable: the worker fetches it
        assert run_queued(staff).state == "queued"

    def test_the_worker_fetches_missing_mnist_or_fails_clearly(
        self, staff, trainable_corrections, fake_ml, monkeypatch
    ):
        run = run_queued(staff)
        monkeypatch.setattr(mnist, "missing_files", lambda root: ["t10k-images-idx3-ubyte"])

        def cannot_fetch(root, log):
            raise mnist.MnistUnavailable("no source worked")

        monkeypatch.setattr(mnist, "fetch_mnist", cannot_fetch)
        run = training_run_execute(run_id=run.pk)
        assert run.state == "failed" and "MNIST is missing on the worker and could not be fetched" in run.reason
        assert not fake_ml.calls

        fetched = []
        monkeypatch.setattr(mnist, "fetch_mnist", lambda root, log: fetched.append(root))
        run = training_run_execute(run_id=run_queued(staff).pk)
        assert fetched and run.state == "promoted"


class TestCommand:
    def run_command(self, *args: str) -> tuple[int, str]:
        import io

        from django.core.management import call_command

        out = io.StringIO()
        with pytest.raises(SystemExit) as exit_info:
            call_command("retrain", *args, stdout=out)
        return exit_info.value.code, out.getvalue()

    @pytest.mark.parametrize("verdict, code, state", [("promote", 0, "promoted"), ("reject", 1, "rejected")])
    def test_sync_exit_status_tells_the_verdict(self, staff, trainable_corrections, fake_ml, verdict, code, state):
        fake_ml.verdict = verdict
        status, output = self.run_command("--sync", "--user", "staff")
        assert status == code and f"{state}:" in output
        assert TrainingRun.objects.get().requested_by == staff

    def test_sync_failure_is_2(self, trainable_corrections, fake_ml):
        fake_ml.raises = RetrainError("no corrections to learn from")
        status, output = self.run_command("--sync")
        assert status == 2 and "failed: no corrections" in output

    def test_a_non_staff_requester_is_refused(self, user, shipped_version):
        from django.core.management import call_command
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="not a staff user"):
            call_command("retrain", "--sync", "--user", user.username)
        assert not TrainingRun.objects.exists()

    def test_refused_when_nothing_to_learn(self, staff, shipped_version):
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="retraining cannot work: no corrections"):
            self.run_command("--sync")
        assert not TrainingRun.objects.exists()


@pytest.fixture
def eager_celery():
    """Celery runs tasks in the calling process, as CELERY_TASK_ALWAYS_EAGER=True would."""
    from digitvision_site.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.django_db(transaction=True)
def test_retrain_wait_reports_progress_until_the_verdict(trainable_corrections, fake_ml, eager_celery, staff):
    """--wait with an eager task (committed at once: no outer transaction): done by the time it polls."""
    status, output = TestCommand().run_command("--wait", "--poll", "0.01", "--user", staff.username)
    assert status == 0 and "promoted" in output and TrainingRun.objects.get().state == "promoted"


@pytest.mark.django_db(transaction=True)
def test_an_eager_task_runs_the_whole_retraining(trainable_corrections, fake_ml, eager_celery, staff):
    """training_run_start -> on_commit -> Celery task (eager) -> execute -> promotion, in one go."""
    run = training_run_start(requested_by=staff)
    run.refresh_from_db()
    assert run.state == "promoted" and ModelVersion.objects.get(is_active=True) == run.candidate_version


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_broker_fails_the_request_and_the_run(trainable_corrections, staff, monkeypatch):
    """A real connection attempt to a port nobody listens on, not a mock."""
    from kombu import Connection

    from digitvision_site.celery import app
    from recognizer.exceptions import TrainingQueueUnavailableError

    # Celery's URL settings are fixed at start-up; the connection it opens is replaced by one to a dead port.
    monkeypatch.setattr(app, "connection_for_write", lambda *args, **kwargs: Connection("redis://127.0.0.1:9/0"))
    app._pool = app.amqp._producer_pool = None  # pooled connections would still reach the real broker
    try:
        with pytest.raises(TrainingQueueUnavailableError, match="cannot be reached"):
            training_run_start(requested_by=staff)
    finally:
        app._pool = app.amqp._producer_pool = None
    run = TrainingRun.objects.get()
    assert (run.state, run.in_flight) == ("failed", None)
