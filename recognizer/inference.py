"""The per-process predictor cache, keyed by the active ModelVersion and reloaded when it changes."""

import threading
from pathlib import Path

from django.conf import settings

from ml.data import sha256_of
from ml.predictor import Predictor
from recognizer.models import ModelVersion
from recognizer.selectors import model_version_active


class ModelWeightsError(RuntimeError):
    """The active version's weights file is missing or is not the file that was registered."""


_lock = threading.Lock()
_cached: tuple[tuple[int, str], Predictor] | None = None


def model_version_weights_path(version: ModelVersion) -> Path:
    """Absolute path of a version's checkpoint; relative paths are under MEDIA_ROOT."""
    path = Path(version.weights_path)
    return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path


def _load(version: ModelVersion) -> Predictor:
    path = model_version_weights_path(version)
    if not path.is_file():
        raise ModelWeightsError(f"weights of model version {version.name} not found at {path}")
    actual = sha256_of(path)
    if actual != version.sha256:
        raise ModelWeightsError(
            f"weights of model version {version.name} at {path} have sha256 {actual}, "
            f"not the registered {version.sha256}: refusing to serve them"
        )
    return Predictor.from_checkpoint(path, version=version.name, threads=1)


def get_predictor() -> tuple[Predictor, ModelVersion]:
    """The active version's predictor, built once per process; one cheap query per call notices a promotion."""
    global _cached
    version = model_version_active()
    key = (version.pk, version.sha256)
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1], version
    with _lock:
        # Another thread may have loaded it while this one waited.
        if _cached is None or _cached[0] != key:
            _cached = (key, _load(version))
        return _cached[1], version


def reset_predictor_cache() -> None:
    """Forget the loaded predictor (tests, or after replacing weights in place)."""
    global _cached
    with _lock:
        _cached = None
