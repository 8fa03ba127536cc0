"""Typed figures (evaluations, model metrics, retraining verdicts): one vocabulary for ml, services, API and pages."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from ml.calibrate import (
    ECE_BINS,
    calibrated_probabilities,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)
from ml.refusal import NOT_A_DIGIT_LABEL, refusals

SCHEMA = 1  # bump when a field changes meaning; from_dict keeps reading older documents

# How a figure reads, so pages format fields rather than guessing from key names.
Kind = Literal["fraction", "count", "calibration", "temperature", "threshold", "points", "epoch", "run"]
Better = Literal["higher", "lower", ""]


def figure(label: str, kind: Kind, better: Better = "", *, change: bool = False) -> Any:
    """A dataclass field (default None) carrying its label, its kind, which direction is better, and whether
    the value is itself a change (candidate - active)."""
    return field(default=None, metadata={"label": label, "kind": kind, "better": better, "change": change})


def figure_fields(cls) -> list:
    """The fields of a figures dataclass that carry figure metadata, in declaration order."""
    return [f for f in fields(cls) if "kind" in f.metadata]


def _known(cls, data: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


# ---------------------------------------------------------------- one model on one labelled set


@dataclass(frozen=True)
class Evaluation:
    """One model's answers on one labelled set (MNIST test, or the held-out corrections)."""

    count: int = figure("count", "count")
    correct: int = figure("correct", "count", "higher")
    accuracy: float | None = figure("accuracy", "fraction", "higher")
    ece: float | None = figure("ECE", "calibration", "lower")
    per_class_count: list[int] = field(default_factory=lambda: [0] * 10)
    per_class_correct: list[int] = field(default_factory=lambda: [0] * 10)
    precision: list[float] = field(default_factory=lambda: [0.0] * 10)
    confusion_matrix: list[list[int]] = field(default_factory=lambda: [[0] * 10 for _ in range(10)])
    wrong_keys: list[str] = field(default_factory=list)  # the samples it got wrong, where samples have keys
    # With a rejection threshold: digits refused ("not a digit") count as errors, and samples labelled not a
    # digit are right exactly when refused.
    refused: int = figure("digits refused", "count", "lower")
    not_a_digit_count: int = figure("not-a-digit samples", "count")
    not_a_digit_refused: int = figure("not-a-digit samples refused", "count", "higher")

    @property
    def errors(self) -> int:
        return self.count - self.correct

    @property
    def recall(self) -> list[float]:
        pairs = zip(self.per_class_correct, self.per_class_count, strict=True)
        return [round(c / n, 5) if n else 0.0 for c, n in pairs]

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "count": self.count,
            "correct": self.correct,
            "errors": self.errors,
            "accuracy": self.accuracy,
            "ece": self.ece,
            "recall": self.recall,
            "precision": list(self.precision),
            "per_class_count": list(self.per_class_count),
            "per_class_correct": list(self.per_class_correct),
            "confusion_matrix": [list(r) for r in self.confusion_matrix],
            "wrong_keys": list(self.wrong_keys),
            "refused": self.refused,
            "not_a_digit_count": self.not_a_digit_count,
            "not_a_digit_refused": self.not_a_digit_refused,
        }

    @property
    def refusal_rate(self) -> float | None:
        """The share of real digits refused (false refusals); None where nothing was counted."""
        digits = self.count - (self.not_a_digit_count or 0)
        return None if self.refused is None or digits <= 0 else self.refused / digits

    @classmethod
    def from_dict(cls, data: dict) -> Evaluation:
        if "schema" not in data and "confusion_matrix" in data:  # ml.evaluate's unversioned report["test"]
            matrix = np.asarray(data["confusion_matrix"], dtype=np.int64)
            return cls(
                count=int(data["count"]),
                correct=int(np.trace(matrix)),
                accuracy=data.get("accuracy"),
                ece=data.get("ece"),
                per_class_count=matrix.sum(axis=1).tolist(),
                per_class_correct=np.diag(matrix).tolist(),
                precision=list(data.get("precision", [0.0] * 10)),
                confusion_matrix=matrix.tolist(),
            )
        return cls(**_known(cls, data))


def evaluation(
    probs: np.ndarray,
    labels: np.ndarray,
    keys: list[str] | None = None,
    rejection_threshold: float | None = None,
    images: np.ndarray | None = None,
    refused: np.ndarray | None = None,
) -> Evaluation:
    """THE way to build an Evaluation: from (N, 10) probabilities and (N,) labels (and each sample's key).

    Labels are digits 0-9 or NOT_A_DIGIT_LABEL. With a ``rejection_threshold`` (the model's) and the (N, 28,
    28) ``images`` the probabilities came from, answers ``ml.refusal.refusals`` refuses are wrong for a digit
    and right for a not-a-digit sample; without a threshold nothing is refused, as for a model trained before
    refusals. The confusion matrix and the ECE count the digits the model answered. ``refused``: the rule's
    answer (``ml.refusal.refusals``) for these probabilities and threshold, when the caller already has it.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(labels), 10)
    predicted = probs.argmax(axis=1) if len(labels) else np.zeros(0, dtype=np.int64)
    if rejection_threshold is not None and images is None:
        raise ValueError("judging refusals needs the images: the several-digits rule looks at them")
    if refused is None:
        refused = refusals(probs, images if images is not None else [], rejection_threshold)
    is_digit = labels != NOT_A_DIGIT_LABEL
    answered = is_digit & ~refused
    ok = np.where(is_digit, answered & (predicted == labels), refused)
    # Rows true, columns predicted, over the digits answered; refused digits appear only in per_class_count.
    matrix = np.bincount(labels[answered] * 10 + predicted[answered], minlength=100).reshape(10, 10)
    per_class_count = np.bincount(labels[is_digit], minlength=10)
    tp = np.diag(matrix).astype(float)
    return Evaluation(
        count=int(len(labels)),
        correct=int(ok.sum()),
        accuracy=float(ok.mean()) if len(labels) else None,
        ece=expected_calibration_error(probs[answered], labels[answered]) if answered.any() else None,
        per_class_count=per_class_count.tolist(),
        per_class_correct=np.diag(matrix).tolist(),
        precision=(tp / np.maximum(matrix.sum(axis=0), 1)).round(5).tolist(),
        confusion_matrix=matrix.tolist(),
        wrong_keys=[k for k, good in zip(keys, ok, strict=True) if not good] if keys is not None else [],
        refused=int((is_digit & refused).sum()),
        not_a_digit_count=int((~is_digit).sum()),
        not_a_digit_refused=int((~is_digit & refused).sum()),
    )


# ---------------------------------------------------------------- calibration on the test set


@dataclass(frozen=True)
class CalibratedEvaluation:
    """A model on MNIST test with its temperature fitted on validation: before and after scaling."""

    temperature: float
    test: Evaluation  # after scaling
    ece_before_scaling: float
    ece_after_scaling: float
    reliability_before: list[dict]
    reliability_after: list[dict]
    ece_bins: int = ECE_BINS

    def to_dict(self) -> dict:
        # The keys ml.evaluate has always written into metrics.json's "report", plus the schema.
        return {
            "schema": SCHEMA,
            "temperature": self.temperature,
            "ece_bins": self.ece_bins,
            "test": self.test.to_dict(),
            "test_ece_before_scaling": self.ece_before_scaling,
            "test_ece_after_scaling": self.ece_after_scaling,
            "reliability_before": self.reliability_before,
            "reliability_after": self.reliability_after,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CalibratedEvaluation:
        return cls(
            temperature=float(data["temperature"]),
            test=Evaluation.from_dict(data["test"]),
            ece_before_scaling=float(data["test_ece_before_scaling"]),
            ece_after_scaling=float(data["test_ece_after_scaling"]),
            reliability_before=list(data.get("reliability_before", [])),
            reliability_after=list(data.get("reliability_after", [])),
            ece_bins=int(data.get("ece_bins", ECE_BINS)),
        )


def calibrated_evaluation(
    val_logits: np.ndarray, val_labels: np.ndarray, test_logits: np.ndarray, test_labels: np.ndarray
) -> CalibratedEvaluation:
    """THE way to build a CalibratedEvaluation: temperature on validation (never test), test before and after."""
    temperature = fit_temperature(val_logits, val_labels)
    before = calibrated_probabilities(test_logits, 1.0)
    after = calibrated_probabilities(test_logits, temperature)
    return CalibratedEvaluation(
        temperature=temperature,
        test=evaluation(after, test_labels),
        ece_before_scaling=expected_calibration_error(before, test_labels),
        ece_after_scaling=expected_calibration_error(after, test_labels),
        reliability_before=reliability_bins(before, test_labels),
        reliability_after=reliability_bins(after, test_labels),
    )


# ---------------------------------------------------------------- a model version's headline metrics


@dataclass(frozen=True)
class ModelMetrics:
    """The headline figures stored with a checkpoint and its ModelVersion (shipped or retrained)."""

    test_accuracy: float | None = figure("MNIST test", "fraction", "higher")
    holdout_accuracy: float | None = figure("holdout", "fraction", "higher")
    val_accuracy: float | None = figure("validation", "fraction", "higher")
    test_ece_after_scaling: float | None = figure("ECE", "calibration", "lower")
    test_ece_before_scaling: float | None = figure("ECE before scaling", "calibration", "lower")
    temperature: float | None = figure("temperature", "temperature")
    rejection_threshold: float | None = figure("rejection threshold", "threshold")
    test_refusal_rate: float | None = figure("MNIST test digits refused", "fraction", "lower")
    selected_epoch: int | None = figure("selected epoch", "epoch")
    parameters: int | None = figure("parameters", "count")
    holdout_correct: int | None = figure("holdout correct", "count", "higher")
    holdout_count: int | None = figure("holdout count", "count")
    active_test_accuracy: float | None = figure("parent's MNIST test", "fraction", "higher")
    active_holdout_correct: int | None = figure("parent's holdout correct", "count", "higher")
    verdict: str | None = None
    training_run: int | None = None
    # Anything else the document carried (metrics.json's report, history, command ...), kept as it came.
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        known = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**self.extra, "schema": SCHEMA, **{k: v for k, v in known.items() if v is not None}}

    @classmethod
    def from_dict(cls, data: dict | None) -> ModelMetrics:
        """Reads schema 1 and the unversioned shapes written before it: ml.evaluate's metrics.json and
        ml.retrain's candidate report (the same flat keys), as stored in ModelVersion.metrics."""
        data = dict(data or {})
        data.pop("schema", None)
        names = {f.name for f in fields(cls)} - {"extra"}
        if data.get("temperature") is None and isinstance(data.get("report"), dict):
            data["temperature"] = data["report"].get("temperature")
        known = {k: data.pop(k) for k in list(data) if k in names}
        return cls(**known, extra=data)


# ---------------------------------------------------------------- a retraining's verdict


@dataclass(frozen=True)
class ModelFigures:
    """One model's figures the retraining verdict rests on (candidate or active)."""

    mnist_test_accuracy: float | None = figure("MNIST test accuracy", "fraction", "higher")
    mnist_test_correct: int | None = figure("MNIST test correct", "count", "higher")
    mnist_test_total: int | None = figure("MNIST test total", "count")
    mnist_test_ece: float | None = figure("MNIST test ECE", "calibration", "lower")
    holdout_accuracy: float | None = figure("Holdout accuracy", "fraction", "higher")
    holdout_correct: int | None = figure("Holdout correct", "count", "higher")
    holdout_total: int | None = figure("Holdout total", "count")
    val_accuracy: float | None = figure("Validation accuracy", "fraction", "higher")
    temperature: float | None = figure("Temperature", "temperature")
    mnist_test_refused: int | None = figure("MNIST test digits refused", "count", "lower")
    holdout_refused: int | None = figure("Holdout digits refused", "count", "lower")
    holdout_not_a_digit_refused: int | None = figure("Holdout not-a-digit refused", "count", "higher")
    rejection_threshold: float | None = figure("Rejection threshold", "threshold")

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def from_dict(cls, data: dict | None) -> ModelFigures:
        # Unversioned rows (TrainingRun.*_metrics before schema 1) carry the same keys, but the oldest named the
        # test ECE just "ece"; missing figures read None.
        data = dict(data or {})
        if "ece" in data:
            data.setdefault("mnist_test_ece", data.pop("ece"))
        return cls(**_known(cls, data))


def model_figures(
    *,
    test: Evaluation,
    holdout: Evaluation,
    val_accuracy: float | None,
    temperature: float | None,
    rejection_threshold: float | None = None,
) -> ModelFigures:
    """THE way to build ModelFigures: from the model's evaluations on MNIST test and on the holdout."""
    return ModelFigures(
        mnist_test_refused=test.refused,
        holdout_refused=holdout.refused,
        holdout_not_a_digit_refused=holdout.not_a_digit_refused,
        rejection_threshold=rejection_threshold,
        mnist_test_accuracy=test.accuracy,
        mnist_test_correct=test.correct,
        mnist_test_total=test.count,
        mnist_test_ece=test.ece,
        holdout_accuracy=holdout.accuracy,
        holdout_correct=holdout.correct,
        holdout_total=holdout.count,
        val_accuracy=val_accuracy,
        temperature=temperature,
    )


@dataclass(frozen=True)
class DigitChange:
    """One digit: MNIST test recall and held-out corrections got right, active vs candidate."""

    digit: int
    test_count: int | None = figure("Test count", "count")
    test_recall_active: float | None = figure("Test recall active", "fraction", "higher")
    test_recall_candidate: float | None = figure("Test recall candidate", "fraction", "higher")
    test_recall_change_pts: float | None = figure("Test recall change", "points", "higher", change=True)
    holdout_count: int | None = figure("Holdout count", "count")
    holdout_correct_active: int | None = figure("Holdout correct active", "count", "higher")
    holdout_correct_candidate: int | None = figure("Holdout correct candidate", "count", "higher")
    holdout_change: int | None = figure("Holdout change", "count", "higher", change=True)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> DigitChange:
        data = dict(data)
        # The oldest rows had short names: test recall of each model and its change as a fraction.
        for old, new in (("active", "test_recall_active"), ("candidate", "test_recall_candidate")):
            if old in data:
                data.setdefault(new, data.pop(old))
        if "change" in data:
            change = data.pop("change")
            data.setdefault("test_recall_change_pts", None if change is None else round(100.0 * change, 3))
        return cls(**_known(cls, data))


def digit_changes(
    *, active_test: Evaluation, candidate_test: Evaluation, active_holdout: Evaluation, candidate_holdout: Evaluation
) -> list[DigitChange]:
    """THE way to build the per-digit rows of a verdict."""
    rows = []
    for d in range(10):
        act_recall, cand_recall = active_test.recall[d], candidate_test.recall[d]
        act_ok, cand_ok = active_holdout.per_class_correct[d], candidate_holdout.per_class_correct[d]
        rows.append(
            DigitChange(
                digit=d,
                test_count=active_test.per_class_count[d],
                test_recall_active=act_recall,
                test_recall_candidate=cand_recall,
                test_recall_change_pts=round(100.0 * (cand_recall - act_recall), 3),
                holdout_count=active_holdout.per_class_count[d],
                holdout_correct_active=act_ok,
                holdout_correct_candidate=cand_ok,
                holdout_change=cand_ok - act_ok,
            )
        )
    return rows


Part = Literal["train", "selection", "holdout"]
Outcome = Literal["learnt", "still_wrong", "kept", "lost"]


@dataclass(frozen=True)
class CorrectionOutcome:
    """One correction after a retraining: its true answer and what the active model and the candidate answer.

    Answers are a digit or NOT_A_DIGIT_LABEL (refused). ``part`` says what the retraining did with it: trained
    on, kept aside to choose the epoch ("selection"), or held out for the gate."""

    key: str
    label: int
    part: Part
    active: int
    candidate: int

    @property
    def outcome(self) -> Outcome:
        """learnt (the active model got it wrong, the candidate right), still_wrong, kept (both right), lost."""
        if self.candidate == self.label:
            return "kept" if self.active == self.label else "learnt"
        return "lost" if self.active == self.label else "still_wrong"

    def to_dict(self) -> dict:
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "outcome": self.outcome}

    @classmethod
    def from_dict(cls, data: dict) -> CorrectionOutcome:
        return cls(**_known(cls, data))


def correction_outcomes(
    *, keys: list[str], labels: np.ndarray, parts: list[str], active: np.ndarray, candidate: np.ndarray
) -> list[CorrectionOutcome]:
    """THE way to build the outcomes: each model's answers (``ml.refusal.answers``) to the same corrections."""
    return [
        CorrectionOutcome(key=k, label=int(y), part=p, active=int(a), candidate=int(c))  # type: ignore[arg-type]
        for k, y, p, a, c in zip(keys, labels, parts, active, candidate, strict=True)
    ]


@dataclass(frozen=True)
class RetrainCounts:
    corrections: int = 0
    train: int = 0  # trained on
    selection: int = 0  # training corrections kept aside to choose the epoch
    holdout: int = 0  # judged by the gate
    replay: int = 0
    validation: int = 0
    test: int = 0

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict | None) -> RetrainCounts:
        return cls(**_known(cls, dict(data or {})))


@dataclass(frozen=True)
class RetrainVerdict:
    """Promote or reject, the deciding reason, both models' figures, the per-digit changes and the counts."""

    verdict: Literal["promote", "reject"]
    reason: str
    candidate: ModelFigures
    active: ModelFigures
    per_class: list[DigitChange]
    counts: RetrainCounts
    # Every correction the run used, what each model answers for it (the run page's "learnt" and "still wrong").
    outcomes: list[CorrectionOutcome] = field(default_factory=list)

    @property
    def promote(self) -> bool:
        return self.verdict == "promote"

    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "verdict": self.verdict,
            "reason": self.reason,
            "candidate": self.candidate.to_dict(),
            "active": self.active.to_dict(),
            "per_class": [row.to_dict() for row in self.per_class],
            "counts": self.counts.to_dict(),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }

    @classmethod
    def from_dict(cls, data: dict) -> RetrainVerdict:
        return cls(
            verdict=data["verdict"],
            reason=data.get("reason", ""),
            candidate=ModelFigures.from_dict(data.get("candidate")),
            active=ModelFigures.from_dict(data.get("active")),
            per_class=[DigitChange.from_dict(r) for r in data.get("per_class", []) if isinstance(r, dict)],
            counts=RetrainCounts.from_dict(data.get("counts")),
            outcomes=[CorrectionOutcome.from_dict(o) for o in data.get("outcomes", []) if isinstance(o, dict)],
        )


def retrain_verdict(
    *,
    verdict: Literal["promote", "reject"],
    reason: str,
    candidate_test: Evaluation,
    candidate_holdout: Evaluation,
    active_test: Evaluation,
    active_holdout: Evaluation,
    candidate_val_accuracy: float | None,
    active_val_accuracy: float | None,
    candidate_temperature: float | None,
    active_temperature: float | None,
    counts: RetrainCounts,
    candidate_threshold: float | None = None,
    active_threshold: float | None = None,
    outcomes: list[CorrectionOutcome] | None = None,
) -> RetrainVerdict:
    """THE way to build a RetrainVerdict: from both models' evaluations and the gate's answer."""
    return RetrainVerdict(
        verdict=verdict,
        reason=reason,
        candidate=model_figures(
            test=candidate_test,
            holdout=candidate_holdout,
            val_accuracy=candidate_val_accuracy,
            temperature=candidate_temperature,
            rejection_threshold=candidate_threshold,
        ),
        active=model_figures(
            test=active_test,
            holdout=active_holdout,
            val_accuracy=active_val_accuracy,
            temperature=active_temperature,
            rejection_threshold=active_threshold,
        ),
        per_class=digit_changes(
            active_test=active_test,
            candidate_test=candidate_test,
            active_holdout=active_holdout,
            candidate_holdout=candidate_holdout,
        ),
        counts=counts,
        outcomes=list(outcomes or []),
    )


__all__ = [
    "SCHEMA",
    "CalibratedEvaluation",
    "CorrectionOutcome",
    "DigitChange",
    "Evaluation",
    "ModelFigures",
    "ModelMetrics",
    "RetrainCounts",
    "RetrainVerdict",
    "calibrated_evaluation",
    "correction_outcomes",
    "digit_changes",
    "evaluation",
    "figure_fields",
    "model_figures",
    "retrain_verdict",
]
