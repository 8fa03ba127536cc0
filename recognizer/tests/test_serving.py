"""The per-process predictor cache: load once, follow the active version, refuse weights that do not match."""

import shutil
import threading

import pytest

from ml.predictor import Predictor
from recognizer import serving
from recognizer.exceptions import ModelUnavailableError, ModelWeightsError, NoActiveModelVersionError
from recognizer.services import model_version_activate, model_version_register
from recognizer.tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """Every Predictor.from_checkpoint call, by version name; the real loader still runs."""
    calls: list[str] = []
    real = Predictor.from_checkpoint.__func__

    def counting(cls, path, version=None, **kwargs):
        calls.append(version)
        return real(cls, path, version=version, **kwargs)

    monkeypatch.setattr(Predictor, "from_checkpoint", classmethod(counting))
    return calls


def test_loads_once_and_reuses_the_predictor(shipped_version, loads):
    first, version = serving.get_predictor()
    second, _ = serving.get_predictor()

    assert first is second
    assert version == shipped_version
    assert first.version == shipped_version.name
    assert loads == [shipped_version.name]


def test_concurrent_first_calls_load_once(shipped_version, loads, monkeypatch):
    # Threads would open their own connections to the test database; the lock is what is under test.
    monkeypatch.setattr(serving, "model_version_active", lambda: shipped_version)
    results = []
    threads = [threading.Thread(target=lambda: results.append(serving.get_predictor()[0])) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(loads) == 1 and len({id(p) for p in results}) == 1


def test_reloads_when_the_active_version_changes(shipped_version, untrained_checkpoint, loads):
    shipped, _ = serving.get_predictor()
    candidate = model_version_register(path=untrained_checkpoint, parent=shipped_version, activate=True)

    fresh, version = serving.get_predictor()

    assert version == candidate and fresh is not shipped and fresh.version == candidate.name
    model_version_activate(version=shipped_version)
    back, _ = serving.get_predictor()
    assert back.version == shipped_version.name
    assert loads == [shipped_version.name, candidate.name, shipped_version.name]


def test_asks_which_version_is_active_at_most_once_per_recheck_interval(
    shipped_version, untrained_checkpoint, settings, monkeypatch, django_assert_num_queries
):
    settings.DIGITVISION_ACTIVE_VERSION_RECHECK_SECONDS = 1.0
    clock = [1000.0]
    monkeypatch.setattr(serving.time, "monotonic", lambda: clock[0])
    serving.get_predictor()
    candidate = model_version_register(path=untrained_checkpoint, parent=shipped_version, activate=True)

    clock[0] += 0.9
    with django_assert_num_queries(0):
        assert serving.get_predictor()[1] == shipped_version  # within the interval: no query, old version
    clock[0] += 0.2
    assert serving.get_predictor()[1] == candidate  # interval over: the promotion is seen


def test_refuses_weights_whose_sha256_does_not_match(untrained_checkpoint, tmp_path, loads):
    path = tmp_path / "tampered.pt"
    shutil.copy(untrained_checkpoint, path)
    version = model_version_register(path=path, activate=True)
    with path.open("ab") as fh:
        fh.write(b"tampered")

    with pytest.raises(ModelUnavailableError, match=f"{version.name}.*not the registered") as excinfo:
        serving.get_predictor()  # nothing else to serve: the recognizer is unavailable (503)
    assert isinstance(excinfo.value.__cause__, ModelWeightsError)
    assert loads == []


def test_a_bad_new_version_leaves_the_previous_one_serving(shipped_version, untrained_checkpoint, tmp_path, loads):
    """Promoted, then its file is damaged: this process keeps serving, and recording, what it had."""
    serving.get_predictor()
    path = tmp_path / "candidate.pt"
    shutil.copy(untrained_checkpoint, path)
    candidate = model_version_register(path=path, activate=True)
    path.write_bytes(b"damaged")

    predictor, version = serving.get_predictor()

    assert version == shipped_version and predictor.version == shipped_version.name
    assert serving.get_predictor()[1] == shipped_version  # no re-hash storm: refused for a while
    assert loads == [shipped_version.name]
    shutil.copy(untrained_checkpoint, path)  # repaired: picked up once the retry delay has passed
    serving._refused.clear()
    assert serving.get_predictor()[1] == candidate


def test_refuses_a_version_whose_weights_are_missing(loads):
    version = ModelVersionFactory(is_active=True)

    with pytest.raises(ModelUnavailableError, match=f"{version.name} not found"):
        serving.get_predictor()
    assert loads == []


def test_no_active_version_is_a_clear_error():
    with pytest.raises(NoActiveModelVersionError, match="bootstrap"):
        serving.get_predictor()
