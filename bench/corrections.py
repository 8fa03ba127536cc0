"""Data the benchmarks write into their throwaway databases."""

import numpy as np
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from recognizer.models import Submission
from recognizer.selectors import model_version_active
from recognizer.services.submissions import _png_of_input


def store_style_corrections(count: int):
    """Store ``count`` corrected submissions in the style of `make bench-retrain` (digits the active model gets
    wrong). Returns the staff account that owns them and how many style digits were rendered to find them."""
    from ml import bench_retrain
    from ml.data import load_mnist
    from ml.predictor import Predictor
    from recognizer.serving import model_version_verified_path

    version = model_version_active()
    splits = load_mnist()
    predictor = Predictor.from_checkpoint(model_version_verified_path(version), threads=1)
    rng = np.random.default_rng(bench_retrain.STYLE_SEED)
    order = rng.permutation(len(splits.train_images))
    images, labels, _, tried, _ = bench_retrain.make_corrections(splits, predictor, order, count, rng)
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
    return staff, tried
