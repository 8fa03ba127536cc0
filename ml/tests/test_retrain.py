"""Retraining from corrections: the stable split, the promotion gate, and small real runs on synthetic data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ml.checkpoint import load_checkpoint, save_checkpoint
from ml.data import MNIST_SHA256, MnistSplits, sha256_of
from ml.report import ModelMetrics, RetrainVerdict
from ml.retrain import (
    HOLDOUT_FRACTION,
    PROMOTE,
    REJECT,
    BaseCheckpointError,
    CorrectionSet,
    EmptyHoldoutError,
    GateConfig,
    InvalidCorrectionsError,
    NoCorrectionsError,
    RetrainConfig,
    RetrainError,
    RetrainTimeout,
    gate,
    retrain,
    split_key_is_holdout,
    split_problem,
)
from ml.tests.conftest import make_checkpoint
from ml.tests.drawing import toy_dataset

REPO_ROOT = Path(__file__).resolve().parents[2]

# --------------------------------------------------------------------------- the split


def test_split_is_about_twenty_percent():
    keys = [f"submission-{i}" for i in range(10_000)]
    share = sum(split_key_is_holdout(k) for k in keys) / len(keys)
    assert abs(share - HOLDOUT_FRACTION) < 0.015  # binomial sd is 0.004


def test_the_digits_of_one_number_fall_on_the_same_side():
    for number in range(300):
        sides = {split_key_is_holdout(f"submission-{number}/digit-{place}") for place in range(6)}
        assert sides == {split_key_is_holdout(f"submission-{number}")}  # the number's own key decides
    held = sum(split_key_is_holdout(f"submission-{n}/digit-0") for n in range(10_000)) / 10_000
    assert abs(held - HOLDOUT_FRACTION) < 0.015


def test_split_is_stable_across_processes():
    keys = [f"submission-{i}" for i in range(200)] + ["3f1c2a9e-8b7d-4c55-9a1e-0d4b5e6f7a8b"]
    here = [split_key_is_holdout(k) for k in keys]
    # A fresh interpreter with a different hash seed must agree: the split may not depend on Python's hash().
    script = f"from ml.retrain import split_key_is_holdout as s; print([s(k) for k in {keys!r}])"
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
    )
    assert out.stdout.strip() == str(here)
    assert here == [split_key_is_holdout(k) for k in keys]


def test_correction_set_split_and_validation():
    images = np.random.default_rng(0).random((50, 28, 28), dtype=np.float32)
    keys = [f"k{i}" for i in range(50)]
    cs = CorrectionSet(images=images, labels=np.arange(50) % 10, keys=keys)
    train, holdout = cs.split()
    assert len(train) + len(holdout) == 50
    assert all(split_key_is_holdout(k) for k in holdout.keys)
    assert not any(split_key_is_holdout(k) for k in train.keys)
    i = keys.index(holdout.keys[0])
    assert np.array_equal(holdout.images[0], images[i]) and holdout.labels[0] == i % 10
    assert CorrectionSet(images=(images * 255).astype(np.uint8), labels=np.zeros(50), keys=keys).images.max() <= 1.0
    assert len(CorrectionSet(images=np.zeros((0, 28, 28)), labels=[], keys=[])) == 0
    with pytest.raises(InvalidCorrectionsError, match="one to one"):
        CorrectionSet(images=images, labels=np.zeros(49), keys=keys)
    with pytest.raises(InvalidCorrectionsError, match="0-9"):
        CorrectionSet(images=images, labels=np.full(50, 10), keys=keys)
    with pytest.raises(InvalidCorrectionsError, match=r"\[0, 1\]"):
        CorrectionSet(images=images * 3, labels=np.zeros(50), keys=keys)
    with pytest.raises(InvalidCorrectionsError, match="28, 28"):
        CorrectionSet(images=np.zeros((50, 27, 27)), labels=np.zeros(50), keys=keys)


# --------------------------------------------------------------------------- the gate


def _mask(n_right: int, n: int) -> np.ndarray:
    return np.arange(n) < n_right


def test_gate_promotes_a_better_candidate():
    verdict, reason = gate(
        candidate_test_correct=9961,
        active_test_correct=9966,
        test_total=10_000,
        candidate_holdout_correct=_mask(47, 50),
        active_holdout_correct=_mask(41, 50),
    )
    assert verdict == PROMOTE
    assert reason == "MNIST test 99.66% -> 99.61% (-0.05 pts, limit -0.10); holdout 41/50 -> 47/50"


def test_gate_test_accuracy_boundary_is_inclusive():
    holdout = dict(candidate_holdout_correct=_mask(30, 40), active_holdout_correct=_mask(20, 40))
    at_limit = gate(candidate_test_correct=9956, active_test_correct=9966, test_total=10_000, **holdout)
    assert at_limit[0] == PROMOTE  # exactly 0.10 pts
    over = gate(candidate_test_correct=9955, active_test_correct=9966, test_total=10_000, **holdout)
    assert over[0] == REJECT and "more than 0.10 pts" in over[1] and "-0.11 pts" in over[1]


def test_gate_rejects_when_holdout_falls():
    verdict, reason = gate(
        candidate_test_correct=9970,
        active_test_correct=9966,
        test_total=10_000,
        candidate_holdout_correct=_mask(39, 50),
        active_holdout_correct=_mask(40, 50),
    )
    assert verdict == REJECT and reason.startswith("holdout accuracy fell") and "40/50 -> 39/50" in reason


def test_gate_rejects_an_empty_holdout():
    verdict, reason = gate(
        candidate_test_correct=9970,
        active_test_correct=9966,
        test_total=10_000,
        candidate_holdout_correct=[],
        active_holdout_correct=[],
        total_corrections=3,
    )
    assert verdict == REJECT
    assert reason.startswith("no holdout corrections to judge on; need at least 1") and "3 so far" in reason


def test_gate_tiny_holdout_needs_per_sample_non_regression():
    n = GateConfig().tiny_holdout_samples - 1
    active = _mask(5, n)
    candidate = _mask(8, n)
    candidate[0] = False  # more right in total, but one the active model got right is lost
    common = dict(candidate_test_correct=9966, active_test_correct=9966, test_total=10_000)
    verdict, reason = gate(candidate_holdout_correct=candidate, active_holdout_correct=active, **common)
    assert verdict == REJECT and "1 held-out correction(s) wrong" in reason and f"5/{n} -> 7/{n}" in reason
    assert gate(candidate_holdout_correct=_mask(8, n), active_holdout_correct=active, **common)[0] == PROMOTE
    # at tiny_holdout_samples and above, the totals decide
    n = GateConfig().tiny_holdout_samples
    candidate, active = _mask(8, n), _mask(5, n)
    candidate[0] = False
    assert gate(candidate_holdout_correct=candidate, active_holdout_correct=active, **common)[0] == PROMOTE


def test_gate_equal_holdout_is_not_a_fall():
    verdict, _ = gate(
        candidate_test_correct=9966,
        active_test_correct=9966,
        test_total=10_000,
        candidate_holdout_correct=_mask(30, 30),
        active_holdout_correct=_mask(30, 30),
    )
    assert verdict == PROMOTE


# --------------------------------------------------------------------------- small real runs


@pytest.fixture(scope="module")
def toy_splits() -> MnistSplits:
    """A tiny MNIST stand-in made of drawn digits: fast, and no download needed."""
    train_x, train_y = toy_dataset(400, seed=11)
    val_x, val_y = toy_dataset(120, seed=12)
    test_x, test_y = toy_dataset(200, seed=13)
    return MnistSplits(train_x, train_y, val_x, val_y, test_x, test_y, checksums=dict(MNIST_SHA256))


@pytest.fixture(scope="module")
def base_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("base") / "base.pt"
    save_checkpoint(make_checkpoint(temperature=1.3, metrics={"val_accuracy": 0.5}), path)
    return path


@pytest.fixture(scope="module")
def corrections() -> CorrectionSet:
    images, labels = toy_dataset(48, seed=21)
    images = images[:, :, ::-1]  # mirrored digits: one consistent "style"
    return CorrectionSet(
        images=images.astype(np.float32) / 255.0, labels=labels, keys=[f"submission-{i}" for i in range(48)]
    )


@pytest.fixture(scope="module")
def run(base_path, corrections, toy_splits, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("run") / "runs" / "1"
    calls: list[tuple[float, str]] = []
    result = retrain(
        base_checkpoint_path=base_path,
        corrections=corrections,
        out_dir=out_dir,
        splits=toy_splits,
        config=RetrainConfig(epochs=2),
        progress=lambda percent, step: calls.append((percent, step)),
    )
    return result, calls, out_dir


def test_retrain_result_fields(run, corrections, base_path):
    result, _, _ = run
    n_holdout = int(corrections.holdout_mask().sum())
    n_selection = len(corrections.split()[0].selection_split(RetrainConfig().selection_fraction)[1])
    n_train = 48 - n_holdout - n_selection
    assert 0 < n_holdout < len(corrections) and 0 < n_selection < n_train
    assert result.verdict.verdict in (PROMOTE, REJECT) and result.reason
    assert result.verdict.counts.to_dict() == {
        "corrections": 48,
        "train": n_train,
        "selection": n_selection,
        "holdout": n_holdout,
        "replay": min(400, max(10 * n_train, 256)),  # 10 per correction, at least 256, at most all
        "validation": 120,
        "test": 200,
    }
    for figures in (result.verdict.candidate, result.verdict.active):
        assert figures.mnist_test_total == 200 and 0 <= figures.mnist_test_correct <= 200
        assert figures.holdout_total == n_holdout
    assert sum(row.holdout_count for row in result.verdict.per_class) == n_holdout
    assert sum(row.test_count for row in result.verdict.per_class) == 200
    assert result.verdict.active.temperature == pytest.approx(1.3)
    assert result.verdict.active.val_accuracy == pytest.approx(0.5)
    assert [row.digit for row in result.verdict.per_class] == list(range(10))
    assert set(result.timings) == {"fine_tune_s", "evaluate_s", "total_s"}
    assert result.timings["total_s"] >= result.timings["fine_tune_s"] > 0
    assert any("epoch 2/2" in line for line in result.log)
    assert result.parent_sha256 == sha256_of(base_path)
    document = json.loads(json.dumps(result.to_dict()))  # JSON-serialisable as it is
    assert document["verdict"] == result.verdict.verdict and document["candidate_path"] == str(result.candidate_path)
    assert RetrainVerdict.from_dict(document) == result.verdict  # the verdict round-trips through JSON
    assert document["schema"] == 1 and document["config"]["epochs"] == 2


def test_retrain_outcomes_cover_every_correction_once(run, corrections):
    result, _, _ = run
    outcomes = result.verdict.outcomes
    assert sorted(o.key for o in outcomes) == sorted(corrections.keys)
    counts = result.verdict.counts
    for part, expected in (("train", counts.train), ("selection", counts.selection), ("holdout", counts.holdout)):
        assert sum(o.part == part for o in outcomes) == expected
    holdout = [o for o in outcomes if o.part == "holdout"]
    assert sum(o.candidate == o.label for o in holdout) == result.verdict.candidate.holdout_correct
    assert sum(o.active == o.label for o in holdout) == result.verdict.active.holdout_correct
    labels = dict(zip(corrections.keys, corrections.labels.tolist(), strict=True))
    assert all(o.label == labels[o.key] for o in outcomes)


def test_correction_outcome_names_what_happened():
    from ml.report import CorrectionOutcome

    def outcome(active: int, candidate: int) -> str:
        return CorrectionOutcome(key="k", label=7, part="train", active=active, candidate=candidate).outcome

    assert outcome(1, 7) == "learnt" and outcome(-1, 7) == "learnt"
    assert outcome(1, 1) == "still_wrong" and outcome(1, -1) == "still_wrong"
    assert outcome(7, 7) == "kept" and outcome(7, 2) == "lost"
    row = CorrectionOutcome(key="submission-3/digit-1", label=-1, part="holdout", active=4, candidate=-1)
    assert row.to_dict()["outcome"] == "learnt" and CorrectionOutcome.from_dict(row.to_dict()) == row


def test_selection_slice_takes_digits_only_stably_and_never_all_of_them():
    keys = [f"submission-{i}" for i in range(400)]
    labels = np.array([i % 10 for i in range(300)] + [-1] * 100)
    corrections = CorrectionSet(images=np.zeros((400, 28, 28), np.float32), labels=labels, keys=keys)
    train, selection = corrections.selection_split(0.2)
    assert len(train) + len(selection) == 400 and 40 <= len(selection) <= 80
    assert (selection.labels != -1).all() and (train.labels == -1).sum() == 100  # "not a digit" always trains
    assert selection.keys == corrections.selection_split(0.2)[1].keys  # the same every time
    held = set(corrections.split()[1].keys)
    assert 0 < len(held & set(selection.keys)) < len(selection)  # independent of the holdout's hash
    number = CorrectionSet(
        images=np.zeros((6, 28, 28), np.float32),
        labels=[1] * 6,
        keys=[f"submission-{n}/digit-{d}" for n in range(40, 43) for d in range(2)],
    )
    for part in number.selection_split(0.5):
        groups = {k.split("/")[0] for k in part.keys}
        assert all(f"{g}/digit-0" in part.keys and f"{g}/digit-1" in part.keys for g in groups)
    one = CorrectionSet(images=np.zeros((1, 28, 28), np.float32), labels=[3], keys=["submission-1"])
    assert len(one.selection_split(1.0)[0]) == 1  # a slice that would take every digit takes none


def test_epoch_choice_keeps_mnist_then_learns_the_slice():
    from ml.retrain.fine_tune import epoch_choice
    from ml.train import EpochRecord

    def epoch(n: int, val: float, on_slice: float | None) -> EpochRecord:
        return EpochRecord(n, 0.0, 0.0, 0.0, 0.0, val, 0.0, selection_accuracy=on_slice)

    choose = epoch_choice(base_val_accuracy=0.9950, max_val_drop_pts=0.10)
    epochs = [epoch(1, 0.9950, 0.60), epoch(2, 0.9941, 0.90), epoch(3, 0.9930, 0.99)]
    assert max(epochs, key=choose).epoch == 2  # epoch 3 learnt more, but lost 0.20 pts of MNIST validation
    assert max([epoch(1, 0.990, 0.5), epoch(2, 0.992, 0.4)], key=choose).epoch == 2  # none within: MNIST
    assert max([epoch(1, 0.995, None), epoch(2, 0.996, None)], key=choose).epoch == 2  # no slice: MNIST


def test_correction_repeats_make_the_corrections_their_share_of_an_epoch():
    config = RetrainConfig(correction_share=0.5)
    assert config.correction_repeats(digits=160, replay=1600) == 10
    assert config.correction_repeats(digits=5000, replay=256) == 1  # never fewer than once
    assert config.correction_repeats(digits=0, replay=256) == 0
    assert RetrainConfig(correction_share=0.25).correction_repeats(digits=100, replay=1500) == 5


def test_retrain_gate_agrees_with_the_figures(run):
    result, _, _ = run
    c, a = result.verdict.candidate, result.verdict.active
    n = c.holdout_total
    assert f"holdout {a.holdout_correct}/{n} -> {c.holdout_correct}/{n}" in result.reason


def test_retrain_writes_a_loadable_candidate(run, base_path):
    result, _, out_dir = run
    assert result.candidate_path == out_dir / "candidate.pt"
    assert sha256_of(result.candidate_path) == result.candidate_sha256
    ckpt = load_checkpoint(result.candidate_path)
    assert ckpt.info["parent_sha256"] == sha256_of(base_path)
    assert ModelMetrics.from_dict(ckpt.metrics) == result.metrics
    assert result.metrics.test_accuracy == result.verdict.candidate.mnist_test_accuracy
    assert ckpt.temperature == pytest.approx(result.verdict.candidate.temperature)
    assert ckpt.model_config == load_checkpoint(base_path).model_config
    assert result.onnx_path == out_dir / "candidate.onnx" and result.onnx_path.is_file()
    from ml.predictor import Predictor

    predictor = Predictor.from_checkpoint(result.candidate_path)
    assert predictor.backend.name == "onnxruntime"  # the export matches the final checkpoint's sha256
    assert {p.name for p in result.plot_paths} >= {"confusion_matrix.png", "reliability.png"}
    assert all(p.is_file() and p.parent == out_dir for p in result.plot_paths)
    assert not list(out_dir.glob("*.tmp"))


def test_retrain_reports_progress(run):
    _, calls, _ = run
    percents = [p for p, _ in calls]
    assert len(calls) >= 10
    assert percents == sorted(percents) and percents[0] == 0.0 and percents[-1] == 100.0
    assert any(step.startswith("fine-tuning") for _, step in calls)
    assert any(step.startswith("evaluating") for _, step in calls)
    # once evaluation starts, every step says so (the Django side switches the run's state on it)
    first = next(i for i, (_, step) in enumerate(calls) if step.startswith("evaluating"))
    assert all(step.startswith(("evaluating", "wrote", "done")) for _, step in calls[first:])


def test_retrain_is_reproducible(run, base_path, corrections, toy_splits, tmp_path):
    result, _, _ = run
    again = retrain(
        base_checkpoint_path=base_path,
        corrections=corrections,
        out_dir=tmp_path,
        splits=toy_splits,
        config=RetrainConfig(epochs=2),
    )
    assert again.verdict == result.verdict
    a, b = load_checkpoint(again.candidate_path).state_dict, load_checkpoint(result.candidate_path).state_dict
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_time_limit_raises_and_leaves_nothing(base_path, corrections, toy_splits, tmp_path):
    out_dir = tmp_path / "run"
    with pytest.raises(RetrainTimeout, match="time limit of 0.001 s"):
        retrain(
            base_checkpoint_path=base_path,
            corrections=corrections,
            out_dir=out_dir,
            splits=toy_splits,
            config=RetrainConfig(epochs=1, time_limit_s=0.001),
        )
    assert not out_dir.exists()


def test_failure_while_writing_leaves_no_candidate(base_path, corrections, toy_splits, tmp_path):
    """A stop late in the run (here: the progress hook raising, as a cancelled run does) removes the files."""

    class Cancelled(Exception):
        pass

    def progress(percent: float, step: str) -> None:
        if step.startswith("evaluating: exporting"):
            raise Cancelled

    tmp_path.joinpath("other.txt").write_text("kept")
    with pytest.raises(Cancelled):
        retrain(
            base_checkpoint_path=base_path,
            corrections=corrections,
            out_dir=tmp_path,
            splits=toy_splits,
            config=RetrainConfig(epochs=1),
            progress=progress,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt"]


def test_missing_or_corrupt_base_checkpoint(corrections, toy_splits, tmp_path):
    with pytest.raises(BaseCheckpointError, match="does not exist"):
        retrain(base_checkpoint_path=tmp_path / "nope.pt", corrections=corrections, out_dir=tmp_path, splits=toy_splits)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(RetrainError, match="base checkpoint unusable"):
        retrain(base_checkpoint_path=corrupt, corrections=corrections, out_dir=tmp_path / "x", splits=toy_splits)
    assert not (tmp_path / "x").exists()


def test_no_corrections(base_path, toy_splits, tmp_path):
    empty = CorrectionSet(images=np.zeros((0, 28, 28), np.float32), labels=[], keys=[])
    with pytest.raises(NoCorrectionsError, match="no corrections"):
        retrain(base_checkpoint_path=base_path, corrections=empty, out_dir=tmp_path, splits=toy_splits)
    holdout_only = [k for k in (f"s{i}" for i in range(100)) if split_key_is_holdout(k)][:2]
    two = CorrectionSet(images=np.zeros((2, 28, 28), np.float32), labels=[1, 2], keys=holdout_only)
    with pytest.raises(NoCorrectionsError, match="nothing left to train on"):
        retrain(base_checkpoint_path=base_path, corrections=two, out_dir=tmp_path, splits=toy_splits)
    train_only = [k for k in (f"s{i}" for i in range(100)) if not split_key_is_holdout(k)][:3]
    three = CorrectionSet(images=np.zeros((3, 28, 28), np.float32), labels=[1, 2, 3], keys=train_only)
    with pytest.raises(EmptyHoldoutError, match="none of the 3 corrections fell in the holdout"):
        retrain(base_checkpoint_path=base_path, corrections=three, out_dir=tmp_path, splits=toy_splits)
    assert split_problem(train_only) and split_problem(holdout_only) and split_problem([]) is not None
    assert split_problem([*train_only, *holdout_only]) is None


def test_config_round_trip_and_replay_count():
    config = RetrainConfig.from_dict({"epochs": 3, "gate": {"max_test_drop_pts": 0.2}})
    assert config.epochs == 3 and config.gate.max_test_drop_pts == 0.2 and config.gate.tiny_holdout_samples == 20
    assert RetrainConfig.from_dict(config.to_dict()) == config
    assert config.replay_count(train=5, available=60_000) == 256  # at least min_replay
    assert config.replay_count(train=100, available=60_000) == 1_000  # replay_factor per correction
    assert config.replay_count(train=100, available=300) == 300  # at most all of MNIST train
    with pytest.raises(ValueError, match="unknown retraining settings: bogus"):
        RetrainConfig.from_dict({"bogus": 1})


def test_gate_uses_its_config():
    common = dict(active_test_correct=9966, test_total=10_000, candidate_holdout_correct=[True] * 30)
    loose = GateConfig(max_test_drop_pts=1.0)
    assert gate(candidate_test_correct=9900, active_holdout_correct=[True] * 30, **common)[0] == REJECT
    verdict = gate(candidate_test_correct=9900, active_holdout_correct=[True] * 30, rules=loose, **common)[0]
    assert verdict == PROMOTE


# --------------------------------------------------------------------------- refusals in a retraining


def test_a_refusing_model_retrains_on_not_a_digit_corrections(toy_splits, corrections, tmp_path, monkeypatch):
    import ml.negatives
    from ml.predictor import Predictor
    from ml.refusal import NOT_A_DIGIT_LABEL

    monkeypatch.setattr(ml.negatives, "DEFAULT_CACHE_DIR", tmp_path / "negatives")
    base = tmp_path / "refusing.pt"
    save_checkpoint(make_checkpoint(temperature=1.3, rejection_threshold=0.5, metrics={"val_accuracy": 0.5}), base)
    rng = np.random.default_rng(4)
    scribbles = rng.uniform(0, 1, (24, 28, 28)).astype(np.float32) ** 4  # speckle: not a digit
    mixed = CorrectionSet(
        images=np.concatenate([corrections.images, scribbles]),
        labels=np.concatenate([corrections.labels, np.full(24, NOT_A_DIGIT_LABEL)]),
        keys=[*corrections.keys, *(f"refusal-{i}" for i in range(24))],
    )
    result = retrain(
        base_checkpoint_path=base,
        corrections=mixed,
        out_dir=tmp_path / "run",
        splits=toy_splits,
        config=RetrainConfig(epochs=1, negative_replay_per_kind=3),
    )
    assert list((tmp_path / "negatives").glob("negatives-*.npz"))  # the synthetic replay was made and cached
    threshold = result.metrics.rejection_threshold
    assert threshold is not None and result.verdict.candidate.rejection_threshold == threshold
    assert result.verdict.active.rejection_threshold == 0.5
    assert load_checkpoint(result.candidate_path).rejection_threshold == pytest.approx(threshold)
    assert Predictor.from_checkpoint(result.candidate_path).backend.rejection_threshold == pytest.approx(threshold)
    held_negatives = sum(key.startswith("refusal-") and split_key_is_holdout(key) for key in mixed.keys)
    assert result.verdict.candidate.holdout_total == int(mixed.holdout_mask().sum())
    assert result.verdict.candidate.holdout_not_a_digit_refused <= held_negatives
    assert result.verdict.candidate.mnist_test_refused is not None


def test_a_model_that_never_refused_gets_no_threshold(run):
    result, _, _ = run
    assert result.metrics.rejection_threshold is None and result.verdict.candidate.mnist_test_refused == 0


# --------------------------------------------------------------------------- what the fine-tuning is given


def test_only_training_corrections_are_trained_on_and_the_slice_only_chooses(
    base_path, corrections, toy_splits, tmp_path, monkeypatch
):
    """The holdout and the epoch-choosing slice never reach training (so never an augmentation of them either),
    and the slice is what the epochs are measured on."""
    import ml.retrain.fine_tune as fine_tune_module

    seen = {}

    class Stop(Exception):
        pass

    def capture(base, images, labels, val_images, val_labels, **options):
        seen.update(images=images, labels=labels, val=val_images, **options)
        raise Stop

    monkeypatch.setattr(fine_tune_module, "fine_tune", capture)
    with pytest.raises(Stop):
        retrain(base_checkpoint_path=base_path, corrections=corrections, out_dir=tmp_path, splits=toy_splits)
    train_side, holdout = corrections.split()
    train, selection = train_side.selection_split(RetrainConfig().selection_fraction)
    trained = {image.tobytes() for image in seen["images"]}
    assert {image.tobytes() for image in train.images} <= trained
    assert not trained & {image.tobytes() for image in [*holdout.images, *selection.images]}
    chosen_on, chosen_labels = seen["selection"]
    assert np.array_equal(chosen_on, selection.images) and np.array_equal(chosen_labels, selection.labels)
    assert seen["val"] is toy_splits.val_images  # and MNIST validation, never the test set
    # half replay, half corrections (each shown several times), and only the replay keeps the base's answers
    rows = seen["distill_rows"]
    replay = RetrainConfig().replay_count(train=len(train), available=len(toy_splits.train_images))
    assert rows.sum() == replay and (~rows).sum() >= len(train) and not rows[: len(train)].any()
    assert {image.tobytes() for image in seen["images"][~rows]} == {image.tobytes() for image in train.images}
