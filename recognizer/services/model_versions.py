"""Writes of model versions: register a checkpoint, activate (promote or roll back) with a recorded event."""

import json
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from ml.data import sha256_of
from recognizer.models import ModelVersion, ModelVersionEvent
from recognizer.serving import model_version_verified_path


def _metrics_beside(path: Path, sha256: str) -> dict:
    """The training report next to a checkpoint, unless it describes a different checkpoint."""
    report = path.parent / "metrics.json"
    try:
        metrics = json.loads(report.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(metrics, dict) or metrics.get("checkpoint_sha256", sha256) != sha256:
        return {}
    return metrics


def _stored_path(path: Path) -> str:
    # Weights under MEDIA_ROOT are stored relative to it, so media on shared storage can be mounted anywhere.
    media = Path(settings.MEDIA_ROOT).resolve()
    return str(path.relative_to(media)) if path.is_relative_to(media) else str(path)


def model_version_activate(
    *,
    version: ModelVersion,
    by=None,
    action: str = ModelVersionEvent.Action.ACTIVATED,
    reason: str = "",
    training_run=None,
) -> ModelVersion:
    """Make ``version`` the one serving predictions, atomically, and record who did it and why.

    The weights file is checked against the registered sha256 first: a missing or altered file is refused
    (ModelWeightsError) and the active version stays. Every process serves the new one from its next request.
    """
    model_version_verified_path(version)
    with transaction.atomic():
        previous = ModelVersion.objects.select_for_update().filter(is_active=True).first()
        if previous is not None and previous.pk == version.pk:
            version.is_active = True
            return version
        ModelVersion.objects.filter(is_active=True).update(is_active=False)
        # Not trusting version.is_active: the instance may be stale.
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
        version.is_active = True
        ModelVersionEvent.objects.create(
            version=version, previous=previous, action=action, by=by, reason=reason, training_run=training_run
        )
    return version


def model_version_rollback(*, version: ModelVersion, by, reason: str = "") -> ModelVersion:
    """Staff make an earlier version active again; recorded as a rollback."""
    if by is None or not by.is_staff:
        raise PermissionDenied("only staff can change the serving model")
    return model_version_activate(
        version=version, by=by, action=ModelVersionEvent.Action.ROLLED_BACK, reason=reason.strip()
    )


def model_version_register(
    *,
    path: str | Path,
    name: str | None = None,
    parent: ModelVersion | None = None,
    created_by=None,
    metrics: dict | None = None,
    activate: bool = False,
) -> ModelVersion:
    """Record a checkpoint file as a model version; registering the same bytes again returns the existing row."""
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"model checkpoint {path} not found")
    sha256 = sha256_of(path)
    with transaction.atomic():
        version = ModelVersion.objects.filter(sha256=sha256).first()
        if version is None:
            name = name or f"digitnet-{sha256[:8]}"
            if ModelVersion.objects.filter(name=name).exists():
                raise ValueError(f"a different model version is already named {name!r}")
            version = ModelVersion.objects.create(
                name=name,
                weights_path=_stored_path(path),
                sha256=sha256,
                parent=parent,
                metrics=metrics if metrics is not None else _metrics_beside(path, sha256),
                created_by=created_by,
            )
        if activate:
            model_version_activate(version=version, by=created_by)
    return version
