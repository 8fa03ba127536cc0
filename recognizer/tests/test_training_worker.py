"""Retraining end to end on a real Celery worker process, against the configured database and broker."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connection

from ml.preprocess import model_input_png
from ml.refusal import NOT_A_DIGIT_LABEL
from recognizer.models import ModelVersion, ModelVersionEvent, TrainingRun
from recognizer.services import number_correct
from recognizer.services.training_runs import (
    training_correction_key,
    training_correction_keys,
    training_digit_sample_key,
    training_run_fail_stale,
    training_run_start,
)
from recognizer.tests.factories import NumberFactory, SubmissionFactory, UserFactory, corrections_for_retraining

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

REPO = Path(__file__).resolve().parents[2]
# Small and quick, but the real code path: MNIST replay, validation selection, evaluation on the full test set.
QUICK_RETRAIN = {"epochs": 1}


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """`celery worker` in its own process group, consuming a queue of its own."""

    def __init__(self, log_path: Path, queue: str, extra_env: dict[str, str]) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "DIGITVISION_TRAINING_QUEUE": queue,
            **extra_env,
        }
        self.log_path = log_path
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "digitvision_site",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=INFO",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log_path.read_text()}")
            if " ready." in self.log_path.read_text():
                return
            time.sleep(0.2)
        raise AssertionError(f"worker not ready after {timeout} s:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost machine would: no chance to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def start_worker(tmp_path, settings):
    queue = f"test-training-{uuid.uuid4().hex[:8]}"
    settings.DIGITVISION_TRAINING_QUEUE = queue
    workers: list[Worker] = []

    def start(**extra_env: str) -> Worker:
        worker = Worker(tmp_path / f"worker-{len(workers)}.log", queue, extra_env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def _not_a_digit_input() -> np.ndarray:
    """A 28x28 "#": ink that is no digit."""
    image = np.zeros((28, 28))
    image[9:11, 4:24] = image[17:19, 4:24] = image[4:24, 9:11] = image[4:24, 17:19] = 1.0
    return image


@pytest.fixture
def corrections(shipped_version) -> dict[str, list]:
    """Every kind of correction, their inputs MNIST *training* digits (the test set stays the judge): 40 (or a
    few more, until some are held out) single digits, a number corrected with as many digits as were found,
    and a submission corrected to not a digit. Their split keys, by kind."""
    from ml.data import load_mnist

    splits = load_mnist()
    owner = UserFactory(username="drawer")
    order = np.random.default_rng(7).permutation(len(splits.train_labels))

    def mnist_input(i: int) -> tuple[int, ContentFile]:
        index = order[i]
        return int(splits.train_labels[index]), ContentFile(model_input_png(splits.train_images[index] / 255.0))

    def make(i: int) -> None:
        label, image = mnist_input(i)
        submission = SubmissionFactory(user=owner, model_version=shipped_version, predicted_digit=(label + 1) % 10)
        submission.input_image.save("input.png", image)
        submission.corrected_digit = label
        submission.save()

    made = corrections_for_retraining(make, at_least=40)
    number = NumberFactory(user=owner, model_version=shipped_version, predicted_number="000")
    true_number = ""
    for sample in number.digit_samples.all():
        label, image = mnist_input(made + sample.position)
        sample.input_image.save("input.png", image)
        true_number += str(label)
    number_correct(submission=number, user=owner, true_number=true_number)
    scribble = SubmissionFactory(user=owner, model_version=shipped_version, predicted_digit=8)
    scribble.input_image.save("input.png", ContentFile(model_input_png(_not_a_digit_input())))
    scribble.corrected_not_a_digit = True
    scribble.save()
    keys = {
        "number": [training_digit_sample_key(submission_id=number.pk, position=p) for p in range(3)],
        "not_a_digit": [training_correction_key(scribble.pk)],
    }
    assert set(keys["number"] + keys["not_a_digit"]) <= set(training_correction_keys())
    return {**keys, "all": training_correction_keys(), "number_labels": [int(d) for d in true_number]}


def wait_for(run: TrainingRun, done, timeout: float, worker: Worker) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if done(run):
            return run
        time.sleep(0.5)
    raise AssertionError(
        f"run {run.pk} still {run.state} ({run.step}) after {timeout} s:\n{worker.log_path.read_text()}"
    )


def test_a_worker_runs_a_retraining_end_to_end(start_worker, staff, corrections, shipped_version):
    worker = start_worker(DIGITVISION_RETRAIN_OPTIONS=json.dumps(QUICK_RETRAIN))
    run = training_run_start(requested_by=staff)  # committed: on_commit sends it to the broker at once
    seen_states = set()

    def finished(r: TrainingRun) -> bool:
        seen_states.add(r.state)
        return not r.is_in_progress

    run = wait_for(run, finished, timeout=240, worker=worker)

    assert run.state in ("promoted", "rejected"), (run.state, run.reason, worker.log_path.read_text())
    assert "running" in seen_states or "evaluating" in seen_states
    assert run.progress == 100 and run.replay_samples > 0
    # What it did with each correction (numbers' digits and "not a digit" among them): every one used once.
    outcomes = {o["key"]: o for o in run.correction_outcomes}
    assert sorted(outcomes) == sorted(corrections["all"]) and len(run.correction_outcomes) == len(outcomes)
    parts = Counter(o["part"] for o in run.correction_outcomes)
    assert (parts["train"], parts["selection"], parts["holdout"]) == (
        run.train_samples,
        run.selection_samples,
        run.holdout_samples,
    )
    assert run.train_samples + run.selection_samples + run.holdout_samples == len(corrections["all"])
    assert [outcomes[key]["label"] for key in corrections["not_a_digit"]] == [NOT_A_DIGIT_LABEL]
    assert [outcomes[key]["label"] for key in corrections["number"]] == corrections["number_labels"]
    assert run.reason and run.candidate_metrics and run.active_metrics and run.per_class and run.log
    assert run.plots and all((Path(settings.MEDIA_ROOT) / p).is_file() for p in run.plots)
    assert run.started_at and run.finished_at and run.in_flight is None
    active = ModelVersion.objects.get(is_active=True)
    if run.state == "promoted":
        assert active == run.candidate_version and active.parent == shipped_version
        event = ModelVersionEvent.objects.get(training_run=run)
        assert (event.action, event.previous, event.by) == ("promoted", shipped_version, staff)
    else:
        assert active == shipped_version and run.candidate_version is None
        assert not ModelVersionEvent.objects.filter(training_run=run).exists()


def test_a_killed_worker_leaves_the_run_failed_and_the_model_unchanged(
    start_worker, staff, corrections, shipped_version, settings
):
    settings.DIGITVISION_TRAINING_STALE_SECONDS = 5
    # Slow enough to be caught mid-run.
    worker = start_worker(DIGITVISION_RETRAIN_OPTIONS=json.dumps({"epochs": 30}))
    run = training_run_start(requested_by=staff)
    run = wait_for(run, lambda r: r.state == "running" and r.progress > 0, timeout=120, worker=worker)

    worker.kill()
    time.sleep(settings.DIGITVISION_TRAINING_STALE_SECONDS + 1)
    assert [r.pk for r in training_run_fail_stale()] == [run.pk]

    run.refresh_from_db()
    assert (run.state, run.in_flight) == ("failed", None)
    assert "stopped reporting progress" in run.reason
    assert list(ModelVersion.objects.values_list("name", "is_active")) == [(shipped_version.name, True)]
    assert not (Path(settings.MEDIA_ROOT) / run.artifacts_dir).exists()
    assert training_run_start(requested_by=staff, enqueue=False).state == "queued"  # the next one can start
