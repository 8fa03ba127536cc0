"""The knobs of a retraining and of its gate, as typed dataclasses with to_dict/from_dict."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields, replace


@dataclass(frozen=True)
class GateConfig:
    """How much worse a candidate may be and still be promoted."""

    # The candidate may lose at most this many percentage points of MNIST test accuracy (0.10 pts = 10 of 10,000).
    max_test_drop_pts: float = 0.10
    # Real digits refused as "not a digit" may not rise. Both thresholds refuse 0.1% of the validation digits, an
    # estimate resting on their 5 highest scores, so the digits each model refuses on MNIST test differ by chance:
    # a rise is rejected when a one-sided sign test on the digits only one of the two refuses puts the chance of
    # at least that many refused by the candidate alone below this level. On the held-out corrections refusals
    # may not rise at all.
    refusal_rise_significance: float = 0.05
    # With no held-out correction there is nothing showing the candidate learnt anything: always reject.
    min_holdout_samples: int = 1
    # Below this many held-out corrections one sample is 5+ points, so the accuracy comparison is noise: the
    # candidate must additionally get right every held-out sample the active model got right.
    tiny_holdout_samples: int = 20


@dataclass(frozen=True)
class RetrainConfig:
    """Fine-tuning and judging settings; defaults measured with `make bench-retrain`."""

    # Learning a handwriting style from a few hundred corrections without forgetting MNIST (measured with `make
    # bench-retrain`, two styles): every epoch shows the corrections as often as it takes for them to be
    # ``correction_share`` of the digits (each time with a new augmentation, small elastic wobble included),
    # the rest MNIST training digits replayed, ``replay_factor`` per correction.
    replay_factor: int = 10
    min_replay: int = 256  # a handful of corrections still get enough replay to keep BatchNorm's statistics sane
    correction_share: float = 0.25
    elastic_px: float = 1.0
    freeze_batchnorm: bool = True
    # The base model's answers on the replayed MNIST digits are distilled into the candidate at this weight
    # (learning without forgetting): the style is learnt where the corrections are, MNIST kept everywhere else.
    distill_weight: float = 2.0
    distill_temperature: float = 2.0
    # Synthetic training negatives (ml.negatives, per kind) replayed beside the not-a-digit corrections when the
    # model refuses, so fine-tuning on digits does not unlearn "not a digit". Made once, then cached.
    negative_replay_per_kind: int = 200
    epochs: int = 5
    lr: float = 1e-3
    # The epoch is chosen on MNIST validation *and* this share of the training corrections (a stable hash, not
    # trained on; the holdout stays for the gate): the best on that slice among the epochs whose MNIST validation
    # accuracy is at most ``max_val_drop_pts`` under the base model's, as the gate will ask of MNIST test.
    selection_fraction: float = 0.2
    max_val_drop_pts: float = 0.10
    seed: int = 0
    # A retraining runs on a worker, not beside a web request: it may use the machine's cores (two measured 1.85x
    # faster than one here); more than two gain little for this small network.
    threads: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    time_limit_s: float | None = None
    gate: GateConfig = field(default_factory=GateConfig)

    def replay_count(self, *, train: int, available: int) -> int:
        """How many MNIST digits to replay alongside ``train`` corrections; the one place this is decided."""
        return min(available, max(self.replay_factor * train, self.min_replay))

    def correction_repeats(self, *, digits: int, replay: int) -> int:
        """How many times an epoch shows each digit correction, so they are ``correction_share`` of its digits."""
        if digits == 0:
            return 0
        return max(1, round(self.correction_share / (1 - self.correction_share) * replay / digits))

    def with_options(self, **options) -> RetrainConfig:
        """A copy with some settings changed (``gate`` may be a dict of GateConfig's fields)."""
        if isinstance(options.get("gate"), dict):
            options["gate"] = replace(self.gate, **options["gate"])
        return replace(self, **options)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RetrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown retraining settings: {', '.join(sorted(unknown))}")
        return cls().with_options(**data)
