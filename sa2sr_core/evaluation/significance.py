"""Paired bootstrap of CCC differences between two settings scored on the same test utterances.

For settings A and B with one or more runs each (pre-training seeds), every bootstrap replicate draws the
test utterances with replacement once, for both settings (the pairing), and the runs of each setting with
replacement (so seed-to-seed spread widens the interval), then takes mean CCC over A's drawn runs minus mean
CCC over B's. The point estimate is the difference of the seed-mean CCCs on the whole split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sa2sr_core.names import DIMS


def ccc_columns(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """CCC of each column: t, p (..., N, D) -> (..., D)."""
    mt, mp = t.mean(-2, keepdims=True), p.mean(-2, keepdims=True)
    cov = ((t - mt) * (p - mp)).mean(-2)
    denom = t.var(-2) + p.var(-2) + (mt - mp).squeeze(-2) ** 2
    return np.where(denom > 0, 2 * cov / np.where(denom > 0, denom, 1), np.nan)


def aligned(frames: list[pd.DataFrame], split: str, what: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Predictions frames (utt_id, split, true_<dim>, pred_<dim>) of one split (`pooled`: all of them, a
    cross-validation's folds), aligned on utt_id:
    (truth (N, 3), [predictions (N, 3) per frame]). Frames that cover other utterances are an error."""
    sel = [(f if split == "pooled" else f[f["split"] == split]).set_index("utt_id").sort_index() for f in frames]
    ref = sel[0]
    for i, s in enumerate(sel[1:], 1):
        if not s.index.equals(ref.index):
            raise ValueError(f"{what}: run {i} scored {len(s)} {split} utterances, run 0 {len(ref)} "
                             f"(or other ones); paired comparison needs the same test utterances")
    truth = ref[[f"true_{d}" for d in DIMS]].to_numpy(np.float64)
    return truth, [s[[f"pred_{d}" for d in DIMS]].to_numpy(np.float64) for s in sel]


def paired_bootstrap(truth: np.ndarray, a: list[np.ndarray], b: list[np.ndarray], n_boot: int = 1000,
                     seed: int = 0, alpha: float = 0.05) -> dict:
    """{dim: {diff, ci95: [lo, hi], p_not_better}} for mean CCC(A runs) - mean CCC(B runs); p_not_better is
    the fraction of replicates with a difference <= 0 (one-sided bootstrap p-value for A > B)."""
    if not a or not b:
        raise ValueError("paired_bootstrap needs at least one run per setting")
    rng = np.random.default_rng(seed)
    n = len(truth)
    runs_a, runs_b = np.stack(a), np.stack(b)  # (Ra, N, D), (Rb, N, D)
    point = ccc_columns(truth, runs_a).mean(0) - ccc_columns(truth, runs_b).mean(0)
    diffs = np.empty((n_boot, truth.shape[1]))
    for i in range(n_boot):
        idx = rng.integers(0, n, n)
        ca = ccc_columns(truth[idx], runs_a[:, idx])  # (Ra, D)
        cb = ccc_columns(truth[idx], runs_b[:, idx])
        ra = rng.integers(0, len(a), len(a)) if len(a) > 1 else np.zeros(1, int)
        rb = rng.integers(0, len(b), len(b)) if len(b) > 1 else np.zeros(1, int)
        diffs[i] = ca[ra].mean(0) - cb[rb].mean(0)
    lo, hi = np.nanpercentile(diffs, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return {d: {"diff": float(point[j]), "ci95": [float(lo[j]), float(hi[j])],
                "p_not_better": float(np.mean(diffs[:, j] <= 0))} for j, d in enumerate(DIMS)}
