"""Time one whole TrainingRun (services, database, files) on N simulated corrections; for a throwaway database."""

import time

import numpy as np
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError

from recognizer.models import Submission, TrainingRun
from recognizer.selectors import model_version_active
from recognizer.services.submissions import _png_of_input
from recognizer.services.training import training_run_execute, training_run_start


class Command(BaseCommand):
    help = (
        "Benchmark: store N corrections in the style of `make bench-retrain` (digits the active model gets wrong), "
        "then run one TrainingRun in this process and report its wall time and verdict. Writes rows and files: "
        "use `make bench-training-run`, which points it at a temporary database and media folder."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--corrections", type=int, default=200)

    def handle(self, *args, corrections: int, **options) -> None:
        from ml import bench_retrain
        from ml.data import load_mnist
        from ml.predictor import Predictor
        from recognizer.inference import model_version_verified_path

        if Submission.objects.exists():
            raise CommandError("this database already has submissions: run it on a throwaway one")
        version = model_version_active()
        splits = load_mnist()
        predictor = Predictor.from_checkpoint(model_version_verified_path(version), threads=1)
        rng = np.random.default_rng(bench_retrain.STYLE_SEED)
        order = rng.permutation(len(splits.train_images))
        images, labels, _, tried, _ = bench_retrain.make_corrections(splits, predictor, order, corrections, rng)
        staff, _ = get_user_model().objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
        for image, label in zip(images, labels, strict=True):
            submission = Submission(
                user=staff,
                source=Submission.Source.CANVAS,
                predicted_digit=(int(label) + 1) % 10,
                confidence=0.5,
                probabilities=[0.1] * 10,
                model_version=version,
                corrected_digit=int(label),
                corrected_by=staff,
            )
            png = _png_of_input(image)
            submission.image.save("original.png", ContentFile(png), save=False)
            submission.input_image.save("input.png", ContentFile(png), save=False)
            submission.save()
        self.stdout.write(f"{corrections} corrections stored ({tried} style digits rendered)")

        started = time.perf_counter()
        run = training_run_start(requested_by=staff, enqueue=False)
        run = training_run_execute(run_id=run.pk)
        wall = time.perf_counter() - started
        self.stdout.write(
            f"training run #{run.pk}: {run.state} in {wall:.1f} s (train {run.train_samples}, holdout "
            f"{run.holdout_samples}, replay {run.replay_samples})\n{run.reason}"
        )
        if run.state not in (TrainingRun.State.PROMOTED, TrainingRun.State.REJECTED):
            raise CommandError(f"the run {run.state}")
