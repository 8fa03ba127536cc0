"""Registering checkpoints as model versions, and the `bootstrap` command."""

import io
import json
import shutil

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from ml.data import sha256_of
from recognizer.exceptions import ModelWeightsError
from recognizer.models import ModelVersion, ModelVersionEvent
from recognizer.services import model_version_activate, model_version_register
from recognizer.tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def test_register_records_sha_name_path_and_metrics(untrained_checkpoint, user):
    sha = sha256_of(untrained_checkpoint)

    version = model_version_register(path=untrained_checkpoint, created_by=user)

    assert version.sha256 == sha and len(version.sha256) == 64
    assert version.name == f"digitnet-{sha[:8]}"
    assert version.weights_path == str(untrained_checkpoint.resolve())
    assert version.metrics == {}  # no metrics.json beside it
    assert version.created_by == user
    assert not version.is_active


def test_register_is_idempotent_on_the_file_contents(untrained_checkpoint, tmp_path):
    first = model_version_register(path=untrained_checkpoint)
    copy = tmp_path / "copy.pt"
    shutil.copy(untrained_checkpoint, copy)

    again = model_version_register(path=copy, name="another-name")

    assert again.pk == first.pk and again.name == first.name
    assert ModelVersion.objects.count() == 1


def test_register_reads_metrics_beside_the_checkpoint_only_when_they_match(untrained_checkpoint, tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    path = folder / "digitnet.pt"
    shutil.copy(untrained_checkpoint, path)
    (folder / "metrics.json").write_text(json.dumps({"checkpoint_sha256": "0" * 64, "test_accuracy": 0.5}))
    assert model_version_register(path=path).metrics == {}  # a stale report of another checkpoint

    ModelVersion.objects.all().delete()
    (folder / "metrics.json").write_text(json.dumps({"checkpoint_sha256": sha256_of(path), "test_accuracy": 0.99}))
    assert model_version_register(path=path).metrics["test_accuracy"] == 0.99


def test_register_under_media_root_stores_a_relative_path(untrained_checkpoint, media_root):
    (media_root / "models").mkdir()
    path = media_root / "models" / "candidate.pt"
    shutil.copy(untrained_checkpoint, path)

    assert model_version_register(path=path).weights_path == "models/candidate.pt"


def test_register_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        model_version_register(path=tmp_path / "nope.pt")


def test_register_with_activate_switches_the_active_version(shipped_version, untrained_checkpoint):
    old = shipped_version

    new = model_version_register(path=untrained_checkpoint, parent=old, activate=True)

    old.refresh_from_db()
    assert new.is_active and not old.is_active and new.parent == old
    assert list(ModelVersion.objects.filter(is_active=True)) == [new]
    model_version_activate(version=old)
    assert list(ModelVersion.objects.filter(is_active=True)) == [old]
    assert [(e.action, e.version, e.previous) for e in ModelVersionEvent.objects.order_by("id")] == [
        ("activated", old, None),
        ("activated", new, old),
        ("activated", old, new),
    ]


def test_activating_a_version_whose_file_is_missing_or_altered_is_refused(shipped_version, untrained_checkpoint):
    missing = ModelVersionFactory()
    with pytest.raises(ModelWeightsError, match="not found"):
        model_version_activate(version=missing)
    altered = model_version_register(path=untrained_checkpoint)
    altered.sha256 = "0" * 64
    altered.save()
    with pytest.raises(ModelWeightsError, match="not the registered"):
        model_version_activate(version=altered)
    assert list(ModelVersion.objects.filter(is_active=True)) == [shipped_version]


def test_rollback_is_staff_only_and_recorded(shipped_version, untrained_checkpoint, user):
    from django.core.exceptions import PermissionDenied

    from recognizer.services import model_version_rollback

    newer = model_version_register(path=untrained_checkpoint, parent=shipped_version, activate=True)
    with pytest.raises(PermissionDenied):
        model_version_rollback(version=shipped_version, by=user, reason="worse on sevens")
    user.is_staff = True
    user.save()
    model_version_rollback(version=shipped_version, by=user, reason="worse on sevens")
    event = ModelVersionEvent.objects.latest("id")
    assert (event.action, event.version, event.previous, event.by, event.reason) == (
        "rolled_back",
        shipped_version,
        newer,
        user,
        "worse on sevens",
    )
    assert ModelVersion.objects.get(is_active=True) == shipped_version


def run_bootstrap(*args: str) -> str:
    out = io.StringIO()
    call_command("bootstrap", *args, stdout=out)
    return out.getvalue()


def test_bootstrap_registers_and_activates_the_shipped_model_once():
    output = run_bootstrap()

    version = ModelVersion.objects.get()
    assert version.is_active
    assert version.sha256 == sha256_of(settings.DIGITVISION_CHECKPOINT)
    assert version.name == f"digitnet-{version.sha256[:8]}"
    assert version.metrics.get("checkpoint_sha256") == version.sha256  # the shipped metrics.json
    assert "registered" in output and "activated" in output

    again = run_bootstrap()

    assert ModelVersion.objects.count() == 1
    assert "already registered" in again and "activated" not in again


def test_bootstrap_leaves_another_active_version_alone():
    current = ModelVersionFactory(is_active=True)

    output = run_bootstrap()

    current.refresh_from_db()
    assert current.is_active
    assert ModelVersion.objects.filter(is_active=True).count() == 1
    assert current.name in output


def test_bootstrap_without_a_checkpoint_fails_clearly(settings, tmp_path):
    settings.DIGITVISION_CHECKPOINT = tmp_path / "missing.pt"
    with pytest.raises(CommandError, match="not found"):
        run_bootstrap()
    assert not ModelVersion.objects.exists()
