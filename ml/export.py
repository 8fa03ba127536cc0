"""Export a checkpoint to ONNX for serving: normalisation and temperature folded into one graph."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ml.checkpoint import SHIPPED_CHECKPOINT, Checkpoint, load_checkpoint
from ml.data import sha256_of

OPSET = 17
INPUT_NAME = "image"  # (N, 1, 28, 28) float32 in [0, 1], ink high: exactly what ml.preprocess returns
OUTPUT_NAME = "calibrated_logits"  # (N, 10); softmax of these are the calibrated probabilities


class ServingGraph(nn.Module):
    """[0, 1] image -> logits / T, so the serving side needs nothing but this file and a softmax."""

    def __init__(self, ckpt: Checkpoint):
        super().__init__()
        self.model = ckpt.build_model()
        self.mean = float(ckpt.normalisation["mean"])
        self.std = float(ckpt.normalisation["std"])
        self.temperature = float(ckpt.temperature)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model((image - self.mean) / self.std) / self.temperature


def onnx_path_for(checkpoint_path: Path) -> Path:
    return Path(checkpoint_path).with_suffix(".onnx")


def export_onnx(checkpoint_path: Path, onnx_path: Path | None = None) -> Path:
    """Write the ONNX graph beside the checkpoint (atomically), tagged with the checkpoint's sha256."""
    import onnx

    checkpoint_path = Path(checkpoint_path)
    onnx_path = Path(onnx_path or onnx_path_for(checkpoint_path))
    ckpt = load_checkpoint(checkpoint_path)
    graph = ServingGraph(ckpt).eval()
    example = torch.rand(2, 1, 28, 28)
    tmp = onnx_path.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of one that needs onnxscript; this one needs nothing.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            graph,
            (example,),
            str(tmp),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    model = onnx.load(str(tmp))
    props = {"checkpoint_sha256": sha256_of(checkpoint_path), "temperature": str(ckpt.temperature)}
    if ckpt.rejection_threshold is not None:
        props["rejection_threshold"] = repr(float(ckpt.rejection_threshold))
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(tmp))
    _check_matches(graph, tmp, example)
    tmp.replace(onnx_path)
    return onnx_path


def _check_matches(graph: ServingGraph, path: Path, example: torch.Tensor) -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    exported = session.run([OUTPUT_NAME], {INPUT_NAME: example.numpy()})[0]
    with torch.inference_mode():
        expected = graph(example).numpy()
    if not np.allclose(exported, expected, atol=1e-4):
        raise RuntimeError(f"ONNX export differs from PyTorch by {np.abs(exported - expected).max():.2e}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export a checkpoint to ONNX beside it (same name, .onnx).")
    parser.add_argument("--checkpoint", type=Path, default=SHIPPED_CHECKPOINT)
    args = parser.parse_args(argv)
    print(f"wrote {export_onnx(args.checkpoint)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
