"""Hostile and broken input through every way in (upload form, the page script's session call to the API, API
multipart and JSON): a clear 4xx, no row, no file written, never a 500."""

import base64
import io
import struct
import warnings
import zipfile
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from recognizer.models import Submission

# Pillow still reads IM headers (so the service can refuse them by name), and warns that it soon will not.
pytestmark = pytest.mark.filterwarnings("ignore:IM image format is deprecated:DeprecationWarning")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def _bomb_png(side: int = 100_000) -> bytes:
    """A tiny PNG that declares side x side pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("digit.png", _png(Image.new("L", (28, 28))))
    return buffer.getvalue()


def _saved(fmt: str, mode: str = "L") -> bytes:
    """A small image in a format Pillow reads but the service does not accept."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # IM, as above
        Image.new(mode, (32, 32), 255).save(buffer, format=fmt)
    return buffer.getvalue()


# Pillow reads an EPS by running Ghostscript on it: refused from its header, it never gets that far.
_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 32 32\n%%EndComments\n0 setgray 4 4 24 24 rectfill\nshowpage\n"

UNDOCUMENTED_FORMATS = {
    "ICO": _saved("ICO"),
    "PPM": _saved("PPM"),
    "XBM": _saved("XBM", "1"),
    "TGA": _saved("TGA"),
    "PCX": _saved("PCX"),
    "SGI": _saved("SGI"),
    "IM": _saved("IM"),
    "EPS": _EPS,
}


_digit = Image.new("L", (200, 200), 255)
_truncated_png = _png(_digit)[:60]
_truncated_jpeg = _jpeg(_digit)[:200]

# name -> (bytes, statuses a correct server may answer)
HOSTILE = {
    "empty file": (b"", {400}),
    "1x1 image": (_png(Image.new("L", (1, 1), 0)), {400, 422}),
    "truncated PNG": (_truncated_png, {400}),
    "truncated JPEG": (_truncated_jpeg, {400}),
    "HTML named .png": (b"<!doctype html><script>alert(1)</script>", {400}),
    "SVG": (b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>', {400}),
    "PDF": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", {400}),
    "ZIP": (_zip(), {400}),
    "decompression bomb": (_bomb_png(), {413}),
    "blank 16-bit": (_png(Image.new("I;16", (64, 64), 65535)), {422}),
    **{f"undocumented format ({fmt})": (data, {415}) for fmt, data in UNDOCUMENTED_FORMATS.items()},
}


def _api_multipart(client, data: bytes, name: str):
    return client.post("/api/v1/predictions/", {"image": SimpleUploadedFile(name, data)}, format="multipart")


def _api_json(client, data: bytes, name: str):
    return client.post("/api/v1/predictions/", {"image": base64.b64encode(data).decode()}, format="json")


def _page_script(client, data: bytes, name: str):
    """The page script: the public API with the session cookie (Django's client, not DRF's)."""
    return client.post("/api/v1/predictions/", {"image": SimpleUploadedFile(name, data), "source": "upload"})


def _upload_form(client, data: bytes, name: str):
    return client.post(reverse("recognizer:upload"), {"image": SimpleUploadedFile(name, data)})


CHANNELS = {
    "api multipart": _api_multipart,
    "api json": _api_json,
    "page script": _page_script,
    "upload form": _upload_form,
}


@pytest.fixture
def clients(user, shipped_version):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    from django.test import Client

    web = Client()
    web.force_login(user)
    return {"api multipart": api, "api json": api, "page script": web, "upload form": web}


def assert_nothing_stored(media_root) -> None:
    assert not Submission.objects.exists()
    assert [p for p in media_root.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_input_is_refused_cleanly(clients, media_root, channel, case):
    data, statuses = HOSTILE[case]
    response = CHANNELS[channel](clients[channel], data, "digit.png")
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert_nothing_stored(media_root)


@pytest.mark.parametrize("fmt", UNDOCUMENTED_FORMATS)
def test_undocumented_formats_are_415_unsupported_format(clients, media_root, fmt):
    """Each is an image Pillow would read; the API names the refusal and the upload page answers 415 too."""
    assert Image.open(io.BytesIO(UNDOCUMENTED_FORMATS[fmt])).format == fmt
    for channel in ("api multipart", "api json"):
        response = CHANNELS[channel](clients[channel], UNDOCUMENTED_FORMATS[fmt], f"digit.{fmt.lower()}")
        assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_format"
    assert _upload_form(clients["upload form"], UNDOCUMENTED_FORMATS[fmt], "digit.png").status_code == 415
    assert_nothing_stored(media_root)


def test_an_eps_is_never_handed_to_ghostscript(clients, media_root, monkeypatch):
    from PIL import EpsImagePlugin

    def ghostscript(*args, **kwargs):
        raise AssertionError("an uploaded EPS reached Ghostscript")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: True)  # as on a machine that has it
    for channel in CHANNELS:
        assert CHANNELS[channel](clients[channel], _EPS, "digit.eps").status_code == 415
    assert_nothing_stored(media_root)


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.png", "..\\..\\evil.png", "caf\udce9.png", "a" * 300 + ".png", "x.exe"]
)
def test_hostile_file_names_never_reach_the_disk(clients, media_root, canvas_seven, name):
    """Only a generated name and the decoded format's extension are used."""
    safe = name.encode("utf-8", "surrogateescape").decode("latin-1")
    response = _api_multipart(clients["api multipart"], canvas_seven, safe)
    assert response.status_code == 201, response.content
    stored = Submission.objects.get().image.name
    assert ".." not in stored and "passwd" not in stored and stored.endswith(".png")
    assert stored.startswith("submissions/")


def test_animated_gif_uses_the_first_frame(clients, media_root):
    frames = [Image.new("L", (100, 100), 255) for _ in range(3)]
    from PIL import ImageDraw

    ImageDraw.Draw(frames[0]).line([(50, 10), (50, 90)], fill=0, width=10)  # a 1, then blank frames
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    response = _api_multipart(clients["api multipart"], buffer.getvalue(), "one.gif")
    assert response.status_code == 201 and response.json()["digit"] == 1


def test_cmyk_jpeg_is_read(clients, media_root):
    image = Image.new("L", (120, 120), 255)
    from PIL import ImageDraw

    ImageDraw.Draw(image).line([(30, 20), (90, 20), (50, 100)], fill=0, width=10)
    response = _api_multipart(clients["api multipart"], _jpeg(image.convert("CMYK")), "seven.jpg")
    assert response.status_code == 201 and response.json()["digit"] == 7


def test_enormous_base64_body_is_413_before_decoding(clients, media_root, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = '{"image": "' + "A" * (2 * 1024 * 1024) + '"}'
    response = clients["api json"].generic("POST", "/api/v1/predictions/", body, content_type="application/json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    assert_nothing_stored(media_root)


@pytest.mark.parametrize(
    "body, content_type",
    [
        (
            b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nabc',
            "multipart/form-data; boundary=x",
        ),
        (b"garbage", "multipart/form-data"),  # no boundary
        (b"--x--", "multipart/form-data; boundary=\xff"),
    ],
    ids=["unterminated", "no-boundary", "bad-boundary"],
)
def test_malformed_multipart_is_400(clients, media_root, body, content_type):
    for channel in ("api multipart", "page script"):
        client = clients[channel]
        response = client.generic("POST", "/api/v1/predictions/", body, content_type=content_type)
        assert 400 <= response.status_code < 500, (channel, response.status_code, response.content[:200])
    assert_nothing_stored(media_root)
