"""Corrected submissions the Django benchmarks store in their throwaway databases (needs Django set up)."""

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile

from bench import retrain
from ml.data import load_mnist
from ml.predictor import Predictor
from ml.preprocess import model_input_png
from recognizer.models import Submission
from recognizer.selectors import model_version_active
from recognizer.serving import model_version_verified_path


def store_style_corrections(count: int) -> tuple[AbstractBaseUser, int]:
    """Store ``count`` corrected submissions in the style of `make bench-retrain` (digits the active model gets
    wrong). Returns the staff account that owns them and how many style digits were rendered to find them."""
    version = model_version_active()
    splits = load_mnist()
    predictor = Predictor.from_checkpoint(model_version_verified_path(version), threads=1)
    rng = np.random.default_rng(retrain.STYLE_SEED)
    order = rng.permutation(len(splits.train_images))
    style = retrain.STYLES["narrow_thin_pen"]
    images, labels, _, tried = retrain.make_corrections(style, splits, predictor, order, count, rng)
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
        png = model_input_png(image)
        submission.image.save("original.png", ContentFile(png), save=False)
        submission.input_image.save("input.png", ContentFile(png), save=False)
        submission.save()
    return staff, tried
