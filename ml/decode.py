"""THE one place an image is decoded: documented formats, a pixel cap before decoding, first frame, upright."""

from __future__ import annotations

import io
from collections.abc import Collection
from pathlib import Path

import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # decoded size cap: a decompression bomb is refused before it is decoded
# JPEGs decode at a reduced scale for free: ml.preprocess analyses ink at 384 px at most, and a small digit in
# a big photo needs 4x that to be found.
DRAFT_SIDE = 4 * 384


class ImageDecodeError(ValueError):
    """The input is not an image this service can read."""


class ImageTooLargeError(ImageDecodeError):
    """The image has more pixels than MAX_PIXELS (a decompression bomb, or simply too big to decode)."""


class ImageFormatError(ImageDecodeError):
    """The image is in a format the caller does not accept."""

    def __init__(self, fmt: str | None, accepted: Collection[str]) -> None:
        super().__init__(f"{fmt or 'these'} images are not accepted: send {', '.join(accepted)}")
        self.format = fmt or ""


_formats_registered = False


def register_image_formats() -> None:
    """Teach Pillow the formats it does not read by itself (HEIC, what iPhones take photos in); idempotent.

    Called by decode_image and by the web app's AppConfig.ready (stored originals, previews), not on import.
    """
    global _formats_registered
    if not _formats_registered:
        pillow_heif.register_heif_opener()
        _formats_registered = True


def decode_image(
    source: bytes | str | Path | Image.Image | io.IOBase, *, formats: Collection[str] | None = None
) -> Image.Image:
    """THE one place an image is decoded: size-checked, first frame, upright per EXIF, pixels loaded.

    ``formats``: Pillow format names to accept (e.g. "PNG", "JPEG"); another is refused from its header,
    before its pixels are decoded. The returned image keeps the source's ``format``, and passing it (or
    any image already in memory) back in returns it as it is, so an image is never decoded twice.
    """
    if isinstance(source, Image.Image) and not isinstance(source, ImageFile.ImageFile):
        return source  # pixels in memory already: made by this function or by the caller
    register_image_formats()
    if isinstance(source, Image.Image):
        img = source
    else:
        fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
        try:
            img = Image.open(fp)  # reads the header only
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(f"The image is too large: {exc}") from exc
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise ImageDecodeError(
                "This is not an image file that can be read: send PNG, JPEG, HEIC, AVIF, WebP, GIF, BMP or TIFF."
            ) from exc
    fmt = img.format
    if formats is not None and fmt not in formats:
        raise ImageFormatError(fmt, formats)
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageDecodeError("The image has no pixels.")
    if width * height > MAX_PIXELS:
        raise ImageTooLargeError(f"The image is too large: {width}x{height} pixels (the limit is {MAX_PIXELS:,}).")
    try:
        # JPEG can decode at a reduced scale for free; keep enough for a small digit in a big photo.
        img.draft(img.mode, (DRAFT_SIDE, DRAFT_SIDE))
        img = ImageOps.exif_transpose(img)  # a copy in memory, upright, whatever the tag said
        img.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"The image is too large: {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageDecodeError(f"The image data is corrupt or cut short ({exc}).") from exc
    img.format = fmt  # the copy forgets it; callers name stored files after it
    return img
