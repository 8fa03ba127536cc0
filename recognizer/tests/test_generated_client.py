"""A Python client generated from /api/schema/ with openapi-python-client imports and works against a live server."""

import base64
import importlib
import io
import mimetypes
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from recognizer.api import docs
from recognizer.models import Submission
from recognizer.services._storage import EXTENSIONS
from recognizer.tests.conftest import canvas_png, number_png
from recognizer.tests.factories import UserFactory

CONFIG = Path(__file__).resolve().parents[2] / "docs" / "openapi-python-client.yaml"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "digitvision_client"
PASSWORD = "correct horse battery staple"


def _seven() -> bytes:
    return canvas_png(lambda d: d.line([(70, 50), (210, 50), (120, 240)], fill=(0, 0, 0, 255), width=24))


@pytest.fixture(scope="module")
def client_package(live_server, tmp_path_factory):
    """The client generated from the live server's schema (as the README says), imported as `digitvision_client`."""
    out = tmp_path_factory.mktemp("generated") / PACKAGE
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}  # the live server is local
    result = subprocess.run(
        [str(GENERATOR), "generate", "--url", f"{live_server.url}/api/schema/", "--config", str(CONFIG)]
        + ["--meta", "none", "--output-path", str(out), "--fail-on-warning"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    # --fail-on-warning: an operation or response the generator had to skip (an `image/*` response, say) fails here.
    assert result.returncode == 0, f"openapi-python-client failed:\n{result.stdout}\n{result.stderr}"
    sys.path.insert(0, str(out.parent))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out.parent))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_every_generated_module_imports(client_package):
    failures = {}
    for module in pkgutil.walk_packages(client_package.__path__, prefix=f"{PACKAGE}."):
        try:
            importlib.import_module(module.name)
        except Exception as exc:  # noqa: BLE001 - collect them all, one report
            failures[module.name] = f"{type(exc).__name__}: {exc}"
    assert not failures, failures


def _signed_in(live_server, username: str):
    """A generated client with the token of a new account, got through the generated token call."""
    from digitvision_client import AuthenticatedClient, Client
    from digitvision_client.api.v1 import v1_auth_token_create
    from digitvision_client.models import AuthTokenRequest, Token

    UserFactory(username=username)
    no_env = {"trust_env": False}  # the live server is local: no proxy from the environment
    token = v1_auth_token_create.sync(
        client=Client(base_url=live_server.url, httpx_args=no_env),
        body=AuthTokenRequest(username=username, password=PASSWORD),
    )
    assert isinstance(token, Token), token
    return AuthenticatedClient(base_url=live_server.url, token=token.token, prefix="Token", httpx_args=no_env)


@pytest.mark.django_db(transaction=True)
def test_token_predict_list_correct_delete(client_package, live_server, shipped_version):
    from digitvision_client.api.v1 import (
        v1_account_delete_create,
        v1_predictions_correction_partial_update,
        v1_predictions_correction_update,
        v1_predictions_create,
        v1_predictions_destroy,
        v1_predictions_image_retrieve,
        v1_predictions_input_image_retrieve,
        v1_predictions_list,
        v1_predictions_preview_retrieve,
        v1_predictions_retrieve,
    )
    from digitvision_client.models import (
        AccountDeleteRequest,
        CorrectionRequest,
        Error,
        PaginatedPredictionList,
        PatchedCorrectionRequest,
        Prediction,
        PredictionBase64Request,
        PredictionUploadRequest,
        V1PredictionsCreateInclude,
        V1PredictionsListOrdering,
    )
    from digitvision_client.types import File

    api = _signed_in(live_server, "ada")

    # The same digit as a multipart file, then as base64 in JSON with the 28x28 input.
    upload = PredictionUploadRequest(image=File(payload=io.BytesIO(_seven()), file_name="seven.png"))
    sent = v1_predictions_create.sync(client=api, body=upload)
    assert isinstance(sent, Prediction), sent
    assert (sent.digit, sent.is_corrected, sent.model_version) == (7, False, shipped_version.name)
    assert len(sent.probabilities) == 10
    text = PredictionBase64Request(image="data:image/png;base64," + base64.b64encode(_seven()).decode())
    second = v1_predictions_create.sync(client=api, body=text, include=V1PredictionsCreateInclude.INPUT)
    assert isinstance(second, Prediction), second
    assert second.digit == 7 and len(second.input_) == 28 and len(second.input_[0]) == 28

    listed = v1_predictions_list.sync(client=api, ordering=V1PredictionsListOrdering.OLDEST_FIRST)
    assert isinstance(listed, PaginatedPredictionList), listed
    assert listed.count == 2 and [p.id for p in listed.results] == [sent.id, second.id]
    newest = v1_predictions_list.sync(client=api, ordering=V1PredictionsListOrdering.NEWEST_FIRST)
    assert [p.id for p in newest.results] == [second.id, sent.id]

    corrected = v1_predictions_correction_update.sync(client=api, id=sent.id, body=CorrectionRequest(true_digit=1))
    assert isinstance(corrected, Prediction), corrected
    assert (corrected.true_digit, corrected.corrected_digit, corrected.is_corrected) == (1, 1, True)
    confirmed = v1_predictions_correction_partial_update.sync(
        client=api, id=second.id, body=PatchedCorrectionRequest(true_digit=7)
    )
    assert isinstance(confirmed, Prediction) and confirmed.is_corrected and confirmed.true_digit == 7
    assert (confirmed.not_a_digit, confirmed.reason, confirmed.closest_digit) == (False, "", 7)

    # The images come back as bytes, in the media types the schema names.
    original = v1_predictions_image_retrieve.sync_detailed(client=api, id=sent.id)
    assert original.status_code == 200 and original.headers["Content-Type"] == "image/png"
    assert original.parsed.payload.read() == _seven()
    model_input = v1_predictions_input_image_retrieve.sync_detailed(client=api, id=sent.id)
    assert model_input.headers["Content-Type"] == "image/png"
    assert model_input.parsed.payload.read().startswith(b"\x89PNG")
    preview = v1_predictions_preview_retrieve.sync_detailed(client=api, id=sent.id)
    assert preview.parsed.payload.read()[8:12] == b"WEBP"

    deleted = v1_predictions_destroy.sync_detailed(client=api, id=sent.id)
    assert deleted.status_code == 204
    gone = v1_predictions_retrieve.sync(client=api, id=sent.id)
    assert isinstance(gone, Error) and gone.error.code == "not_found"
    assert list(Submission.objects.values_list("pk", flat=True)) == [second.id]

    bye = v1_account_delete_create.sync_detailed(client=api, body=AccountDeleteRequest(password=PASSWORD))
    assert bye.status_code == 204
    assert not Submission.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_not_a_digit_and_its_corrections(client_package, live_server, refusing_model):
    """The nullable digit, confidence and true digit parse: the schema declares them nullable."""
    from digitvision_client.api.v1 import (
        v1_predictions_correction_update,
        v1_predictions_create,
        v1_predictions_list,
    )
    from digitvision_client.models import (
        CorrectionRequest,
        Prediction,
        PredictionBase64Request,
        V1PredictionsListAnswer,
    )

    api = _signed_in(live_server, "grace")

    text = PredictionBase64Request(image=base64.b64encode(_seven()).decode())
    refused = v1_predictions_create.sync(client=api, body=text)
    assert isinstance(refused, Prediction), refused
    assert (refused.digit, refused.confidence, refused.not_a_digit, refused.true_digit) == (None, None, True, None)
    assert refused.reason and refused.closest_digit in range(10) and refused.true_not_a_digit

    listed = v1_predictions_list.sync(client=api, answer=V1PredictionsListAnswer.NOT_A_DIGIT)
    assert [p.id for p in listed.results] == [refused.id]
    to_digit = v1_predictions_correction_update.sync(client=api, id=refused.id, body=CorrectionRequest(true_digit=7))
    assert (to_digit.true_digit, to_digit.true_not_a_digit, to_digit.digit) == (7, False, None)
    confirmed = v1_predictions_correction_update.sync(
        client=api, id=refused.id, body=CorrectionRequest(not_a_digit=True)
    )
    assert (confirmed.true_digit, confirmed.corrected_not_a_digit, confirmed.corrected_digit) == (None, True, None)


@pytest.mark.django_db(transaction=True)
def test_numbers_read_list_correct(client_package, live_server, shipped_version):
    """A whole number through the generated client: the nested digits, the nullable number fields, both kinds of
    correction and a digit's input image parse as the schema says."""
    from digitvision_client.api.v1 import (
        v1_numbers_correction_partial_update,
        v1_numbers_correction_update,
        v1_numbers_create,
        v1_numbers_digits_input_image_retrieve,
        v1_numbers_list,
    )
    from digitvision_client.models import (
        Number,
        NumberBase64Request,
        NumberCorrectionRequest,
        NumberUploadRequest,
        PaginatedNumberList,
        PatchedNumberCorrectionRequest,
    )
    from digitvision_client.types import File

    api = _signed_in(live_server, "emmy")

    upload = NumberUploadRequest(image=File(payload=io.BytesIO(number_png("704")), file_name="n.png"))
    sent = v1_numbers_create.sync(client=api, body=upload)
    assert isinstance(sent, Number), sent
    assert (sent.number, sent.corrected_number, sent.is_corrected) == ("704", None, False)
    assert [(d.position, d.digit, len(d.box)) for d in sent.digits] == [(0, 7, 4), (1, 0, 4), (2, 4, 4)]
    text = NumberBase64Request(image=docs.FORTY_TWO_PNG_BASE64)
    second = v1_numbers_create.sync(client=api, body=text)
    assert isinstance(second, Number) and second.number == "42"

    listed = v1_numbers_list.sync(client=api)
    assert isinstance(listed, PaginatedNumberList) and [n.id for n in listed.results] == [second.id, sent.id]

    fixed = v1_numbers_correction_update.sync(client=api, id=sent.id, body=NumberCorrectionRequest(true_number="2026"))
    assert (fixed.true_number, fixed.segmentation_wrong, fixed.digits[0].corrected_digit) == ("2026", True, None)
    one = v1_numbers_correction_partial_update.sync(
        client=api, id=second.id, body=PatchedNumberCorrectionRequest(position=1, true_digit=7)
    )
    assert (one.true_number, [d.corrected_digit for d in one.digits]) == ("47", [4, 7])

    model_input = v1_numbers_digits_input_image_retrieve.sync_detailed(client=api, id=sent.id, position=2)
    assert model_input.status_code == 200 and model_input.headers["Content-Type"] == "image/png"
    assert model_input.parsed.payload.read().startswith(b"\x89PNG")


def test_schema_names_concrete_media_types_the_client_config_reads():
    """Every image type the schema names is one an original is stored as (or the preview's WebP), and the README's
    generator config reads each as bytes; no wildcard a generator would skip."""
    stored = {mimetypes.guess_type(f"x{ext}")[0] for ext in EXTENSIONS.values()}  # as FileResponse names them
    assert set(docs.ORIGINAL_IMAGE_TYPES) == stored
    assert set(docs.PREVIEW_IMAGE_TYPES) == stored and docs.PREVIEW_IMAGE_TYPES[0] == "image/webp"
    overrides = yaml.safe_load(CONFIG.read_text())["content_type_overrides"]
    assert set(overrides) == stored and set(overrides.values()) == {"application/octet-stream"}
