"""History's previews: a small WebP of each original, made on first view, sent only to who may see the original."""

import io
import logging
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from PIL import Image, ImageDraw

from recognizer.models import PREVIEW_SIDE, Submission
from recognizer.services import submission_delete
from recognizer.tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db

ORIENTATION = 0x0112  # the EXIF tag phone cameras set instead of turning the pixels


def photo_jpeg(width: int, height: int, orientation: int = 1) -> bytes:
    """A camera-sized photo: grey paper with a dark bar along its top edge, as stored (before EXIF turns it)."""
    image = Image.new("RGB", (width, height), (200, 200, 190))
    ImageDraw.Draw(image).rectangle([0, 0, width, height // 10], fill=(20, 20, 20))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


def with_original(submission: Submission, data: bytes, name: str) -> Submission:
    submission.image.save(name, ContentFile(data))
    return submission


def get_preview(client: Client, submission: Submission) -> tuple[int, bytes, dict]:
    response = client.get(reverse("recognizer:submission-preview", args=[submission.pk]))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body, response.headers


@pytest.fixture
def owner_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def preview_files(media_root: Path) -> list[Path]:
    return [path for path in (media_root / "previews").rglob("*") if path.is_file()]


def test_a_photo_gets_a_small_upright_webp_preview(owner_client, user, media_root):
    original = photo_jpeg(1600, 1200, orientation=6)  # shot with the phone upright: shown 1200 wide, 1600 high
    submission = with_original(SubmissionFactory(user=user), original, "photo.jpg")

    status, body, headers = get_preview(owner_client, submission)

    assert status == 200
    assert headers["Content-Type"] == "image/webp"
    assert headers["Cache-Control"] == "private, max-age=3600"
    preview = Image.open(io.BytesIO(body))
    assert preview.format == "WEBP"
    assert preview.size == (PREVIEW_SIDE * 3 // 4, PREVIEW_SIDE)  # turned upright, then fitted
    # The dark bar that was along the stored top edge is along the right edge once turned a quarter clockwise.
    grey = preview.convert("L")
    assert grey.getpixel((preview.width - 3, preview.height // 2)) < 80
    assert grey.getpixel((3, preview.height // 2)) > 150
    assert len(body) * 20 < len(original)


def test_the_preview_is_made_once_and_kept(owner_client, user, media_root):
    submission = with_original(SubmissionFactory(user=user), photo_jpeg(800, 600), "photo.jpg")

    first = get_preview(owner_client, submission)
    second = get_preview(owner_client, submission)

    assert first[0] == second[0] == 200 and first[1] == second[1]
    assert len(preview_files(media_root)) == 1


def test_a_transparent_canvas_keeps_its_transparency_and_is_not_enlarged(owner_client, user):
    canvas = Image.new("RGBA", (120, 120), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(30, 20), (90, 20), (50, 100)], fill=(0, 0, 0, 255), width=10)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    submission = with_original(SubmissionFactory(user=user), buffer.getvalue(), "canvas.png")

    status, body, _ = get_preview(owner_client, submission)

    preview = Image.open(io.BytesIO(body))
    assert status == 200 and preview.size == (120, 120)
    assert preview.mode == "RGBA" and preview.getpixel((5, 5))[3] == 0 and preview.getpixel((60, 20))[3] > 200


def test_history_shows_previews_not_originals(owner_client, user):
    submission = SubmissionFactory(user=user)

    html = owner_client.get(reverse("recognizer:history")).content.decode()

    assert reverse("recognizer:submission-preview", args=[submission.pk]) in html
    assert reverse("recognizer:submission-image", args=[submission.pk]) not in html


def test_deleting_a_submission_removes_its_preview(owner_client, user, media_root, django_capture_on_commit_callbacks):
    submission = with_original(SubmissionFactory(user=user), photo_jpeg(800, 600), "photo.jpg")
    assert get_preview(owner_client, submission)[0] == 200
    assert len(preview_files(media_root)) == 1

    with django_capture_on_commit_callbacks(execute=True):
        submission_delete(submission=submission)

    assert preview_files(media_root) == []
    assert not (media_root / submission.image.name).exists()


def test_a_damaged_original_is_sent_as_it_is(owner_client, user, media_root, caplog):
    submission = SubmissionFactory(user=user)
    (media_root / submission.image.name).write_bytes(b"\x89PNG\r\n\x1a\n not really")

    with caplog.at_level(logging.ERROR, logger="recognizer.image_responses"):
        status, body, _ = get_preview(owner_client, submission)

    assert status == 200 and body == b"\x89PNG\r\n\x1a\n not really"
    assert preview_files(media_root) == []
    assert "no preview could be made" in caplog.text


def test_a_missing_original_is_a_404(owner_client, user, media_root):
    submission = SubmissionFactory(user=user)
    (media_root / submission.image.name).unlink()

    assert get_preview(owner_client, submission)[0] == 404
    assert preview_files(media_root) == []


def test_an_iphone_heic_photo_gets_a_preview(owner_client, user):
    photo = Image.open(io.BytesIO(photo_jpeg(1200, 900)))
    buffer = io.BytesIO()
    photo.save(buffer, format="HEIF")
    submission = with_original(SubmissionFactory(user=user), buffer.getvalue(), "photo.heic")

    status, body, headers = get_preview(owner_client, submission)

    assert status == 200 and headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(body)).size == (PREVIEW_SIDE, PREVIEW_SIDE * 3 // 4)


def test_every_stored_extension_has_its_media_type():
    """Responses name their type from the stored extension, not from the system's mime.types."""
    from recognizer.image_responses import MEDIA_TYPES
    from recognizer.services._storage import EXTENSIONS

    assert set(EXTENSIONS.values()) | {".webp", ".png"} == set(MEDIA_TYPES)
