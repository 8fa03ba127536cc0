"""Predictor: checkpoint in, calibrated predictions (or "no digit") out."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ml.checkpoint import load_checkpoint, save_checkpoint
from ml.data import sha256_of
from ml.decode import ImageDecodeError
from ml.predictor import Prediction, Predictor
from ml.tests.drawing import black_on_white, canvas_rgba, encode


@pytest.fixture(scope="module")
def predictor(untrained_checkpoint) -> Predictor:
    return Predictor.from_checkpoint(untrained_checkpoint)


@pytest.fixture
def own_checkpoint(untrained_checkpoint, tmp_path) -> pathlib.Path:
    """A private copy, for tests that export beside it or rewrite it."""
    path = tmp_path / "own.pt"
    shutil.copyfile(untrained_checkpoint, path)
    return path


def _check_prediction(prediction: Prediction) -> None:
    assert not prediction.no_digit
    assert isinstance(prediction.digit, int) and 0 <= prediction.digit <= 9
    probs = np.array(prediction.probabilities)
    assert len(prediction.probabilities) == 10 and all(isinstance(p, float) for p in prediction.probabilities)
    assert (probs >= 0).all() and probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert prediction.confidence == pytest.approx(probs.max())
    assert prediction.digit == int(probs.argmax())
    assert prediction.input_image.shape == (28, 28) and prediction.input_image.dtype == np.float32
    assert prediction.reason == ""


def test_predict_drawn_digit(predictor, seven_png):
    _check_prediction(predictor.predict(seven_png))


def test_predict_accepts_path_and_pil_image(predictor, seven_png, tmp_path):
    path = tmp_path / "seven.png"
    path.write_bytes(seven_png)
    expected = predictor.predict(seven_png)
    for source in (path, str(path), Image.open(path)):
        prediction = predictor.predict(source)
        _check_prediction(prediction)
        assert prediction.probabilities == pytest.approx(expected.probabilities)


def test_probabilities_use_temperature(untrained_checkpoint, seven_png, tmp_path):
    ckpt = load_checkpoint(untrained_checkpoint)
    assert ckpt.temperature == pytest.approx(1.5)
    scaled = Predictor.from_checkpoint(untrained_checkpoint, backend="torch")
    ckpt.temperature = 1.0
    save_checkpoint(ckpt, tmp_path / "plain.pt")
    plain = Predictor.from_checkpoint(tmp_path / "plain.pt", backend="torch")
    image = scaled.predict(seven_png).input_image
    model = plain.backend
    with torch.inference_mode():
        logits = model.model((torch.from_numpy(image).view(1, 1, 28, 28) - model.mean) / model.std)[0]
    assert np.allclose(scaled.probabilities(image[None])[0], torch.softmax(logits / 1.5, 0).numpy(), atol=1e-6)
    assert np.allclose(plain.probabilities(image[None])[0], torch.softmax(logits, 0).numpy(), atol=1e-6)


def test_onnx_backend_matches_torch_and_is_chosen_when_exported(own_checkpoint, seven_png):
    from ml.export import export_onnx

    torch_predictor = Predictor.from_checkpoint(own_checkpoint, backend="torch")
    export_onnx(own_checkpoint)
    auto = Predictor.from_checkpoint(own_checkpoint)
    assert auto.backend.name == "onnxruntime" and torch_predictor.backend.name == "torch"
    assert auto.version == torch_predictor.version
    assert auto.predict(seven_png).probabilities == pytest.approx(
        torch_predictor.predict(seven_png).probabilities, abs=1e-5
    )


def test_stale_onnx_export_is_ignored(own_checkpoint, tmp_path):
    from ml.export import export_onnx

    export_onnx(own_checkpoint)
    ckpt = load_checkpoint(own_checkpoint)
    ckpt.temperature = 3.0
    save_checkpoint(ckpt, own_checkpoint)  # the checkpoint changed; its old export no longer matches
    assert Predictor.from_checkpoint(own_checkpoint).backend.name == "torch"
    with pytest.raises(FileNotFoundError):
        Predictor.from_checkpoint(own_checkpoint, backend="onnx")


def test_serving_from_onnx_never_imports_torch(own_checkpoint, seven_png, tmp_path):
    from ml.export import export_onnx

    export_onnx(own_checkpoint)
    (tmp_path / "seven.png").write_bytes(seven_png)
    code = (
        "import sys; from ml.predictor import Predictor; "
        f"p = Predictor.from_checkpoint({str(own_checkpoint)!r}); "
        f"r = p.predict({str(tmp_path / 'seven.png')!r}); "
        "assert p.backend.name == 'onnxruntime' and r.digit is not None; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=pathlib.Path(__file__).resolve().parents[2])


def test_blank_image_is_no_digit(predictor):
    prediction = predictor.predict(encode(Image.new("L", (200, 200), 255)))
    assert prediction.no_digit
    assert prediction.digit is None and prediction.confidence is None and prediction.probabilities is None
    assert prediction.input_image is None
    assert prediction.reason


def test_unreadable_input_raises(predictor):
    with pytest.raises(ImageDecodeError):
        predictor.predict(b"definitely not an image")


def test_predict_batch_keeps_order_and_handles_blanks(predictor, seven_png):
    blank = encode(Image.new("RGBA", (280, 280), (0, 0, 0, 0)))
    four = encode(canvas_rgba("4", size=(280, 280), height=200, stroke=20))
    zero = encode(black_on_white("0", size=(200, 200), height=150, stroke=14).convert("RGB"), "JPEG")
    images = [seven_png, blank, four, blank, zero]
    batch = predictor.predict_batch(images)
    assert len(batch) == len(images)
    assert [p.no_digit for p in batch] == [False, True, False, True, False]
    for single, from_batch in zip([predictor.predict(i) for i in images], batch, strict=True):
        if single.no_digit:
            assert from_batch.no_digit and from_batch.reason == single.reason
        else:
            _check_prediction(from_batch)
            assert np.array_equal(from_batch.input_image, single.input_image)
            assert from_batch.probabilities == pytest.approx(single.probabilities, abs=1e-5)
    assert not np.array_equal(batch[0].input_image, batch[2].input_image)  # order kept: 7 and 4 differ


def test_predict_batch_of_only_blanks_and_of_nothing(predictor):
    blank = encode(Image.new("L", (50, 50), 255))
    assert [p.no_digit for p in predictor.predict_batch([blank, blank])] == [True, True]
    assert predictor.predict_batch([]) == []


def test_version_string(untrained_checkpoint, predictor):
    assert predictor.version.startswith("digitnet-")
    assert predictor.version == f"digitnet-{sha256_of(untrained_checkpoint)[:8]}"
    assert Predictor.from_checkpoint(untrained_checkpoint, version="custom-1").version == "custom-1"


def test_default_predictor_uses_one_thread(untrained_checkpoint):
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        Predictor.from_checkpoint(untrained_checkpoint)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def test_model_is_in_eval_mode(predictor, seven_png):
    assert not predictor.backend.model.training
    first = predictor.predict(seven_png).probabilities
    assert predictor.predict(seven_png).probabilities == first  # no dropout at inference
