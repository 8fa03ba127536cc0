"""Image bytes out of a request (an uploaded file or base64 text), refused before reading when too large."""

import base64
import binascii
import re

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from recognizer.exceptions import InvalidImageError, TooLargeError

# "data:image/png;base64,...." as canvas.toDataURL() makes it; the media type is not trusted, only skipped.
_DATA_URL = re.compile(r"^data:[\w.+/-]*(;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)


def _refuse_if_larger(size: int, what: str) -> None:
    limit = settings.DIGITVISION_MAX_UPLOAD_BYTES
    if size > limit:
        raise TooLargeError(f"the {what} is too large ({size:,} bytes; limit {limit:,})")


def read_uploaded_file(file: UploadedFile) -> bytes:
    """The file's bytes; a file over the upload limit is refused from its size, without reading it."""
    _refuse_if_larger(file.size or 0, "file")
    return file.read()


def decode_base64_image(text: str) -> bytes:
    """Bytes of a base64 string or data URL; refused from its length when the image would be over the limit."""
    payload = _DATA_URL.sub("", text.strip(), count=1)
    payload = "".join(payload.split())  # line breaks are common in base64 from command-line tools
    _refuse_if_larger(len(payload) * 3 // 4, "image")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImageError("the image is not valid base64 (or a data: URL with base64 data)") from exc
