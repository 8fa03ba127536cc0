"""The gate: promote a candidate only if it is no worse on MNIST and on people's held-out corrections."""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.stats import binomtest

from ml.retrain.config import GateConfig
from ml.retrain.split import HOLDOUT_FRACTION

PROMOTE = "promote"
REJECT = "reject"
Verdict = Literal["promote", "reject"]


def gate(
    *,
    candidate_test_correct: int,
    active_test_correct: int,
    test_total: int,
    candidate_holdout_correct: np.ndarray | list[bool],
    active_holdout_correct: np.ndarray | list[bool],
    total_corrections: int | None = None,
    candidate_test_refused: int = 0,
    active_test_refused: int = 0,
    test_refused_by_candidate_only: int | None = None,
    test_refused_by_active_only: int | None = None,
    candidate_holdout_refused: int = 0,
    active_holdout_refused: int = 0,
    rules: GateConfig | None = None,
) -> tuple[Verdict, str]:
    """Promote only if the candidate is no worse on MNIST and no worse on people's held-out corrections.

    Rules, in order:
    1. An empty holdout is rejected: there is nothing to judge the candidate on (at least
       min_holdout_samples held-out correction is needed; about 1 in 5 corrections is held out).
    2. MNIST test accuracy may drop by at most max_test_drop_pts percentage points.
    3. Holdout accuracy (per-sample masks, candidate vs active) must not fall.
    4. Real digits refused as "not a digit" may not rise (refusing more real digits is a worse model, even where
       accuracy holds): on MNIST test, the digits refused by the candidate alone must not outnumber those
       refused by the active model alone beyond chance (``refusal_rise_p`` below ``refusal_rise_significance``;
       without the paired counts, every extra refusal counts as the candidate's alone); among the held-out
       corrections, not at all.
    5. With fewer than tiny_holdout_samples held-out corrections, one sample swings the accuracy by 5+ points
       (noise), so the candidate must also keep every held-out sample the active model got right.
    Returns (verdict, reason): verdict is "promote" or "reject"; reason quotes the figures that decided it.
    """
    rules = rules or GateConfig()
    cand = np.asarray(candidate_holdout_correct, dtype=bool).reshape(-1)
    act = np.asarray(active_holdout_correct, dtype=bool).reshape(-1)
    if cand.shape != act.shape:
        raise ValueError(f"holdout masks differ in length: {cand.size} vs {act.size}")
    if test_total <= 0:
        raise ValueError("the MNIST test set is empty")
    n = int(cand.size)
    cand_pct = 100.0 * candidate_test_correct / test_total
    act_pct = 100.0 * active_test_correct / test_total
    change = cand_pct - act_pct
    limit = rules.max_test_drop_pts
    test_text = f"MNIST test {act_pct:.2f}% -> {cand_pct:.2f}% ({change:+.2f} pts, limit -{limit:.2f})"
    if n < rules.min_holdout_samples:
        total = f" ({total_corrections} so far)" if total_corrections is not None else ""
        return REJECT, (
            f"no holdout corrections to judge on; need at least {rules.min_holdout_samples} held-out correction "
            f"(about 1 in {round(1 / HOLDOUT_FRACTION)} corrections is held out{total}); {test_text}"
        )
    holdout_text = f"holdout {int(act.sum())}/{n} -> {int(cand.sum())}/{n}"
    summary = f"{test_text}; {holdout_text}"
    # Integer comparison (in units of 1/10,000 of the test set) so 0.10 pts exactly is inside the limit.
    allowed_drop = limit / 100.0 * test_total
    if active_test_correct - candidate_test_correct > allowed_drop + 1e-9:
        return REJECT, f"MNIST test accuracy fell by more than {limit:.2f} pts: {summary}"
    if int(cand.sum()) < int(act.sum()):
        return REJECT, f"holdout accuracy fell: {summary}"
    only_candidate = test_refused_by_candidate_only
    only_active = test_refused_by_active_only
    paired = ""
    if only_candidate is None or only_active is None:
        only_candidate, only_active = max(0, candidate_test_refused - active_test_refused), 0
    elif only_candidate or only_active:
        paired = f" ({only_candidate} by the candidate alone, {only_active} by the active model alone)"
    refusals = (
        f"digits refused: MNIST test {active_test_refused} -> {candidate_test_refused}{paired}, "
        f"holdout {active_holdout_refused} -> {candidate_holdout_refused}"
    )
    chance = refusal_rise_p(only_candidate, only_active)
    if chance < rules.refusal_rise_significance:
        return REJECT, (
            f"more MNIST test digits refused ({only_candidate} by the candidate alone, {only_active} by the active "
            f"model alone: p = {chance:.3f} by chance, limit {rules.refusal_rise_significance:g}): {refusals}; "
            f"{summary}"
        )
    if candidate_holdout_refused > active_holdout_refused:
        return REJECT, f"more held-out digits refused: {refusals}; {summary}"
    if candidate_test_refused or active_test_refused or candidate_holdout_refused or active_holdout_refused:
        summary += f"; {refusals}"
    tiny = rules.tiny_holdout_samples
    if n < tiny:
        lost = int((act & ~cand).sum())
        if lost:
            return REJECT, (
                f"holdout of {n} (< {tiny}) and the candidate gets {lost} held-out correction(s) "
                f"wrong that the active model got right: {summary}"
            )
        summary += f" (holdout < {tiny}: no held-out sample lost)"
    return PROMOTE, summary


def refusal_rise_p(only_candidate: int, only_active: int) -> float:
    """The chance of at least ``only_candidate`` of the digits refused by one model alone being the candidate's,
    were either model as likely to refuse each (a one-sided sign test, McNemar's exact form); 1 without a rise."""
    if only_candidate <= only_active:
        return 1.0
    return float(binomtest(only_candidate, only_candidate + only_active, 0.5, alternative="greater").pvalue)


def gate_rules(rules: GateConfig | None = None) -> dict:
    """The rules as recorded with a result."""
    rules = rules or GateConfig()
    return {
        "max_test_drop_pts": rules.max_test_drop_pts,
        "refusal_rise_significance": rules.refusal_rise_significance,
        "min_holdout_samples": rules.min_holdout_samples,
        "tiny_holdout_samples": rules.tiny_holdout_samples,
        "holdout_fraction": HOLDOUT_FRACTION,
    }
