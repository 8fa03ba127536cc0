"""Stored submission images sent back to the people allowed to see them, never to shared caches."""

import logging
from pathlib import Path

from django.core.files import File
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404
from PIL import Image

from recognizer.models import Submission

logger = logging.getLogger(__name__)

# The media type of each stored file's extension (originals, previews, model inputs), set explicitly: Python's
# mimetypes knows WebP, HEIC and AVIF only where the system's mime.types does, and clients rely on the type.
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".bmp": "image/bmp",
    ".tiff": "image/tiff",
    ".heic": "image/heic",
    ".avif": "image/avif",
}


def _private_response(handle: File) -> FileResponse:
    content_type = MEDIA_TYPES.get(Path(handle.name or "").suffix.lower())
    response = FileResponse(handle, content_type=content_type)
    # Private to the signed-in owner (or staff); a browser may keep it, a shared cache may not.
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def private_file_response(file: FieldFile) -> FileResponse:
    """The file as a response; a missing file is a 404, as if the submission had none."""
    try:
        return _private_response(file.open("rb"))
    except (FileNotFoundError, ValueError) as exc:
        raise Http404("The image file is missing.") from exc


def private_preview_response(submission: Submission) -> FileResponse:
    """The original's small preview, made on first use; the original itself if no preview can be made of it."""
    preview = submission.preview
    try:
        preview.generate()
        return _private_response(preview.storage.open(preview.name, "rb"))
    except FileNotFoundError as exc:
        raise Http404("The image file is missing.") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        # Every original was decoded when it was stored, so this is a damaged file: send what there is.
        logger.exception("no preview could be made of the original of submission %s", submission.pk)
        return private_file_response(submission.image)
