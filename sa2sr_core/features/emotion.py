"""Emotion data from feature shards: which utterances have usable A/V/D labels, their batches, the utterance
functionals stored beside them, and CCC per dimension. Shared by fine-tuning, the baseline and evaluation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq

from sa2sr_core.errors import Sa2srError
from sa2sr_core.features.batches import Example, ShardDataset
from sa2sr_core.features.shards import shard_files, stats_from_batch
from sa2sr_core.names import DIMS


@dataclass
class EmotionData:
    avd: dict[str, np.ndarray]  # utt_id -> (3,) activation, valence, dominance
    skipped: dict[str, int]


class MissingStatsError(Sa2srError):
    pass


def read_stats(split_dir, ids) -> np.ndarray:
    """(len(ids), K) utterance functionals of `ids` from a split's shards, in the order of `ids`."""
    want, found = set(ids), {}
    for path in shard_files(split_dir):
        if "utt_stats" not in pq.read_schema(path).names:
            raise MissingStatsError(f"{path} has no utt_stats column (made by an older sa2sr): "
                                    f"re-run `dvc repro features`")
        for b in pq.read_table(path, columns=["utt_id", "utt_stats"]).to_batches():
            for u, row in zip(b.column(0).to_pylist(), stats_from_batch(b)):
                if u in want:
                    found[u] = row
    return np.stack([found[u] for u in ids]).astype(np.float32)


def scan_emotion_split(split_dir, cfg, min_frames: int) -> EmotionData:
    """Utterances with usable AVD labels (inside cfg.scale_min..cfg.scale_max) and enough frames; count the rest."""
    avd = {}
    skipped = {"missing_or_nan_label": 0, "label_outside_scale": 0, "too_short_for_regressor": 0}
    files = shard_files(split_dir)
    if not files:
        raise FileNotFoundError(f"no feature shards under {split_dir}: run `dvc repro features` first")
    for path in files:
        for r in pq.read_table(path, columns=["utt_id", "num_frames", *DIMS]).to_pylist():
            values = [r[d] for d in DIMS]
            if any(v is None or math.isnan(v) for v in values):
                skipped["missing_or_nan_label"] += 1
            elif any(not cfg.scale_min <= v <= cfg.scale_max for v in values):
                skipped["label_outside_scale"] += 1
            elif r["num_frames"] < min_frames:
                skipped["too_short_for_regressor"] += 1
            else:
                avd[r["utt_id"]] = np.array(values, np.float32)
    return EmotionData(avd, skipped)


def make_emotion_dataset(split_dir, data: EmotionData, cfg, stats: bool = False) -> ShardDataset:
    """Batches of a split's usable utterances under cfg's frame budget; stats: also the utterance functionals."""
    def make_example(row: dict) -> Example | None:
        t = data.avd.get(row["utt_id"])
        return None if t is None else Example(row["utt_id"], row["feats"], avd=t, stats=row.get("utt_stats"))

    return ShardDataset(split_dir, make_example, cfg.max_frames_per_batch, cfg.max_batch, stats=stats)
