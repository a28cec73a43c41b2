"""Utterance functionals of *unnormalised* LFBE: the level and spread that per-utterance normalisation removes.

Per-utterance mean/variance normalisation (paper §4.2) hands the encoder a sequence with zero mean and unit
variance per mel bin, so overall loudness, spectral tilt and dynamic range never reach it, though they are
among the strongest activation and dominance cues. These functionals keep them, computed once per utterance
from the raw log mel energies (before normalisation), and feed

- the classical baseline (`baseline` stage: ridge regression on them), and
- optionally the emotion regressor (`finetune.regressor.utterance_stats`), beside the encoder sequence.

Vector layout for F mel bins (2F + 4 values; 84 for F = 40):

    [0, F)      mean log energy per bin over the louder frames (the top `loud_fraction` by frame energy)
    [F, 2F)     standard deviation per bin over the same frames
    2F .. 2F+2  10th, 50th, 90th percentile of frame energy (mean log energy over bins), all frames
    2F + 3      log duration in seconds (frames x 10 ms)

"Louder frames" leaves pauses and silence out of the spectral statistics, so they describe speech rather than
the share of silence in a recording.
"""

from __future__ import annotations

import numpy as np

LOUD_FRACTION = 0.7
PERCENTILES = (10.0, 50.0, 90.0)  # the 3 of sa2sr_core.config.features.functionals_dim's 2F + 4


def utterance_functionals(raw: np.ndarray, frame_shift_s: float = 0.01,
                          loud_fraction: float = LOUD_FRACTION) -> np.ndarray:
    """(T, F) unnormalised log mel energies -> (2F + 4,) float32 functionals (layout in the module doc)."""
    if raw.ndim != 2 or raw.shape[0] < 1:
        raise ValueError(f"expected (T >= 1, F) log mel energies, got shape {raw.shape}")
    x = raw.astype(np.float64)
    energy = x.mean(axis=1)  # (T,) frame level
    n_keep = max(1, int(np.ceil(loud_fraction * len(energy))))
    loud = np.argsort(energy, kind="stable")[-n_keep:]  # the louder frames
    sel = x[loud]  # (n_keep, F)
    out = np.concatenate([sel.mean(axis=0), sel.std(axis=0), np.percentile(energy, PERCENTILES),
                          [np.log(len(energy) * frame_shift_s)]])
    return out.astype(np.float32)
