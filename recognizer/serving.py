"""The per-process predictor cache, keyed by the active ModelVersion and reloaded when it changes."""

import logging
import math
import threading
import time
from pathlib import Path

from django.conf import settings

from ml.data import sha256_of
from ml.predictor import Predictor
from recognizer.exceptions import ModelUnavailableError, ModelWeightsError
from recognizer.models import ModelVersion
from recognizer.selectors import model_version_active

logger = logging.getLogger(__name__)


_lock = threading.Lock()
_cached: tuple[tuple[int, str], Predictor, ModelVersion] | None = None
# When this process last asked the database which version is active (time.monotonic()).
_checked_at = -math.inf
# Versions whose weights were refused, and when: looked at again after RETRY_REFUSED_SECONDS.
_refused: dict[tuple[int, str], float] = {}
RETRY_REFUSED_SECONDS = 10.0


def model_version_weights_path(version: ModelVersion) -> Path:
    """Absolute path of a version's checkpoint; relative paths are under MEDIA_ROOT."""
    path = Path(version.weights_path)
    return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path


def model_version_verified_path(version: ModelVersion) -> Path:
    """The version's weights file after checking it is the registered file; raises ModelWeightsError if not."""
    path = model_version_weights_path(version)
    if not path.is_file():
        raise ModelWeightsError(f"weights of model version {version.name} not found at {path}")
    actual = sha256_of(path)
    if actual != version.sha256:
        raise ModelWeightsError(
            f"weights of model version {version.name} at {path} have sha256 {actual}, "
            f"not the registered {version.sha256}: refusing to serve them"
        )
    return path


def _load(version: ModelVersion) -> Predictor:
    return Predictor.from_checkpoint(model_version_verified_path(version), version=version.name, threads=1)


def get_predictor() -> tuple[Predictor, ModelVersion]:
    """The active version's predictor, built once per process.

    Which version is active is asked of the database at most once per
    ``DIGITVISION_ACTIVE_VERSION_RECHECK_SECONDS``: a promotion reaches every web process within that time,
    and a prediction under load does not pay a query for it (see ``make bench-load``).
    If the newly active version's weights are missing or not the registered file, the version this process
    was serving keeps serving (and is what the submission records), so a bad file never stops predictions;
    with nothing to fall back on, ModelUnavailableError (503). NoActiveModelVersionError when none is active.
    """
    global _cached, _checked_at
    cached = _cached
    now = time.monotonic()
    if cached is not None and now - _checked_at < settings.DIGITVISION_ACTIVE_VERSION_RECHECK_SECONDS:
        return cached[1], cached[2]
    version = model_version_active()
    key = (version.pk, version.sha256)
    if cached is not None and cached[0] == key:
        _checked_at = now
        return cached[1], version
    with _lock:
        # Another thread may have loaded it while this one waited.
        if _cached is None or _cached[0] != key:
            if _cached is not None and _refused.get(key, -math.inf) > time.monotonic() - RETRY_REFUSED_SECONDS:
                return _cached[1], _cached[2]  # refused moments ago: don't re-hash the file on every request
            try:
                _cached = (key, _load(version), version)
                _checked_at = now
            except ModelWeightsError as exc:
                if _cached is None:
                    # Nothing else to serve: to the person predicting, the recognizer is down (503), whatever
                    # the reason; the reason is logged for whoever can fix it.
                    logger.exception("no model version can serve predictions")
                    raise ModelUnavailableError(str(exc)) from exc
                _refused[key] = time.monotonic()
                logger.exception("keeping model version %s: the newly active one cannot be loaded", _cached[2].name)
        return _cached[1], _cached[2]


def reset_predictor_cache() -> None:
    """Forget the loaded predictor (tests, or after replacing weights in place)."""
    global _cached, _checked_at
    with _lock:
        _cached = None
        _checked_at = -math.inf
        _refused.clear()
