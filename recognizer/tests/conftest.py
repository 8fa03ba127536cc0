"""Shared fixtures: a temp MEDIA_ROOT, an untrained checkpoint and small images made in memory."""

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from ml.checkpoint import checkpoint_from_model, save_checkpoint
from ml.model import DigitNet, ModelConfig


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path_factory) -> Path:
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def untrained_checkpoint(tmp_path_factory) -> Path:
    """A real checkpoint file whose predictions are arbitrary, so tests do not depend on the shipped model."""
    path = tmp_path_factory.mktemp("model") / "untrained.pt"
    save_checkpoint(checkpoint_from_model(DigitNet(ModelConfig()), normalisation={"mean": 0.1307, "std": 0.3081}), path)
    return path


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def digit_png(tmp_path) -> Path:
    """A dark '7' drawn on white, like a scan."""
    image = Image.new("L", (200, 200), 255)
    draw = ImageDraw.Draw(image)
    draw.line([(50, 40), (150, 40), (90, 170)], fill=0, width=18)
    path = tmp_path / "seven.png"
    path.write_bytes(png_bytes(image))
    return path


@pytest.fixture
def blank_png(tmp_path) -> Path:
    path = tmp_path / "blank.png"
    path.write_bytes(png_bytes(Image.new("L", (200, 200), 255)))
    return path


@pytest.fixture
def text_file(tmp_path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("this is not an image\n")
    return path


@pytest.fixture(autouse=True)
def fresh_predictor_cache(settings):
    """Each test starts with no loaded predictor, so cache behaviour never leaks between tests; an activation
    is seen by the next prediction (test_serving checks the production re-check interval separately)."""
    from recognizer.serving import reset_predictor_cache

    settings.DIGITVISION_ACTIVE_VERSION_RECHECK_SECONDS = 0
    reset_predictor_cache()
    yield
    reset_predictor_cache()


@pytest.fixture
def user(db):
    from recognizer.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def staff(db):
    """A staff member: curates corrections, retrains and rolls back."""
    from recognizer.tests.factories import UserFactory

    return UserFactory(username="staff", is_staff=True)


@pytest.fixture
def staff_client(client, staff):
    """Django's test client signed in as ``staff`` (pages); API tests use ``staff_api``."""
    client.force_login(staff)
    return client


@pytest.fixture
def staff_api(staff):
    """An API client authenticated as ``staff``."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture
def shipped_version(db):
    """The real shipped checkpoint registered and active, as `manage.py bootstrap` leaves it."""
    from django.conf import settings

    from recognizer.services import model_version_register

    return model_version_register(path=settings.DIGITVISION_CHECKPOINT, activate=True)


def canvas_png(draw_digit, size: int = 280) -> bytes:
    """What the drawing canvas sends: dark strokes on a transparent RGBA background."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw_digit(ImageDraw.Draw(image))
    return png_bytes(image)


@pytest.fixture
def canvas_one() -> bytes:
    return canvas_png(lambda d: d.line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=24))


@pytest.fixture
def canvas_seven() -> bytes:
    return canvas_png(lambda d: d.line([(70, 50), (210, 50), (120, 240)], fill=(0, 0, 0, 255), width=24, joint="curve"))


@pytest.fixture
def blank_canvas() -> bytes:
    return canvas_png(lambda d: None)


DIGIT_PITCH = 120  # px from one digit to the next in number_png: well apart, as written in boxes


def number_png(digits: str, *, ink: int = 0, paper: int = 255) -> bytes:
    """A number written with a thick pen, its digits (of 0, 2, 4, 7) well apart: what a clear photo shows."""
    from ml.tests.drawing import draw_digit

    image = Image.new("L", (DIGIT_PITCH * len(digits) + 60, 220), paper)
    for position, digit in enumerate(digits):
        draw_digit(image, digit, 150, 16, (75 + DIGIT_PITCH * position, 110), fill=ink)
    return png_bytes(image)


@pytest.fixture
def number_704() -> bytes:
    """ "704" dark on white, 420x220: the shipped model reads it as 704."""
    return number_png("704")


@pytest.fixture
def number_png_file(tmp_path) -> Path:
    """ "42" as a PNG file."""
    path = tmp_path / "forty-two.png"
    path.write_bytes(number_png("42"))
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell in teardown whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def token_client(user):
    """An API client authenticated as ``user`` with a real token header."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def trainable_corrections(shipped_version) -> list:
    """Corrected submissions that can make a retraining: at least 10, some in the holdout and some to train on
    (the stable hash split depends on the ids, so it makes more until both sides have one)."""
    from ml.retrain import split_key_is_holdout
    from recognizer.services.training_runs import training_correction_key
    from recognizer.tests.factories import SubmissionFactory, UserFactory

    owner = UserFactory(username="corrector")
    made = []
    while len(made) < 10 or len({split_key_is_holdout(training_correction_key(s.pk)) for s in made}) < 2:
        made.append(SubmissionFactory(user=owner, model_version=shipped_version, corrected_digit=len(made) % 10))
    return made


@pytest.fixture
def refusing_model(shipped_version, monkeypatch):
    """The shipped model version made to refuse every inked image ("not a digit", with the reason the image
    gives), for tests of refusals whatever the shipped model's threshold. The live server runs in this
    process, so browser tests see it too."""
    from recognizer import serving

    serve = serving.get_predictor

    def refusing():
        predictor, version = serve()
        predictor.backend.rejection_threshold = -1.0  # every rejection score (1 - max p) is above it
        return predictor, version

    monkeypatch.setattr(serving, "get_predictor", refusing)
    return shipped_version
