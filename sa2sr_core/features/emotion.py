"""Emotion data from feature shards: which utterances have usable labels (A/V/D on the corpus scale, and/or an
emotion class), their batches, and the utterance functionals stored beside them. Shared by fine-tuning, the
baselines and evaluation, so that all of them see the same utterances."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow.parquet as pq

from sa2sr_core.config.training import resolve_task
from sa2sr_core.errors import Sa2srError
from sa2sr_core.features.batches import Example, ShardDataset
from sa2sr_core.features.shards import shard_files, stats_from_batch
from sa2sr_core.names import DIMS


#: What fine-tuning learns: A/V/D (the paper), emotion classes, or both with one loss.
TASKS = ("dimensions", "categories", "both")


@dataclass
class EmotionData:
    avd: dict[str, np.ndarray]  # utt_id -> (3,) activation, valence, dominance (utterances with usable A/V/D)
    skipped: dict[str, int]
    category: dict[str, int] = field(default_factory=dict)  # utt_id -> class index (utterances with a known class)
    classes: tuple[str, ...] = ()

    @property
    def ids(self) -> list[str]:
        """Every usable utterance, sorted."""
        return sorted(set(self.avd) | set(self.category))


def train_labels(split_dir) -> tuple[bool, tuple[str, ...]]:
    """(whether any utterance has all of A/V/D, the sorted class names) of a (training) split's shards."""
    dims, found = False, set()
    for path in shard_files(split_dir):
        names = pq.read_schema(path).names
        t = pq.read_table(path, columns=[c for c in (*DIMS, "category") if c in names])
        if all(d in names for d in DIMS):
            dims = dims or any(all(v is not None for v in row) for row in zip(*(t.column(d).to_pylist() for d in DIMS)))
        if "category" in names:
            found |= {c for c in t.column("category").to_pylist() if c}
    return dims, tuple(sorted(found))


def task_and_classes(task: str, own_corpus: bool, train_dir) -> tuple[str, tuple[str, ...]]:
    """finetune.task with `auto` decided from the training split's labels (resolve_task), and the classes a
    categorical head gets (none for dimensions)."""
    dims, classes = train_labels(train_dir)
    task = resolve_task(task, own_corpus, dims, bool(classes))
    return task, classes if task != "dimensions" else ()


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


def scan_emotion_split(split_dir, cfg, min_frames: int, task: str = "dimensions",
                       classes: tuple[str, ...] = ()) -> EmotionData:
    """Utterances with usable labels for `task` (A/V/D inside cfg.scale_min..cfg.scale_max; a category among
    `classes`) and enough frames; count the rest."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    dims, cats = task in ("dimensions", "both"), task in ("categories", "both")
    index = {c: i for i, c in enumerate(classes)}
    avd, category = {}, {}
    skipped = {"missing_or_nan_label": 0, "label_outside_scale": 0, "too_short_for_regressor": 0}
    if cats:
        skipped["category_not_in_train"] = 0
    files = shard_files(split_dir)
    if not files:
        raise FileNotFoundError(f"no feature shards under {split_dir}: run `dvc repro features` first")
    for path in files:
        names = pq.read_schema(path).names
        cols = ["utt_id", "num_frames", *DIMS, *(["category"] if cats and "category" in names else [])]
        for r in pq.read_table(path, columns=cols).to_pylist():
            values = [r[d] for d in DIMS]
            has_dims = dims and not any(v is None or math.isnan(v) for v in values)
            name = r.get("category") if cats else None
            if not has_dims and not name:
                skipped["missing_or_nan_label"] += 1
                continue
            if has_dims and any(not cfg.scale_min <= v <= cfg.scale_max for v in values):
                skipped["label_outside_scale"] += 1
                continue
            if name and name not in index:
                skipped["category_not_in_train"] += 1
                if not has_dims:
                    continue
                name = None
            if r["num_frames"] < min_frames:
                skipped["too_short_for_regressor"] += 1
                continue
            if has_dims:
                avd[r["utt_id"]] = np.array(values, np.float32)
            if name:
                category[r["utt_id"]] = index[name]
    return EmotionData(avd, skipped, category, tuple(classes))


def make_emotion_dataset(split_dir, data: EmotionData, cfg, stats: bool = False) -> ShardDataset:
    """Batches of a split's usable utterances under cfg's frame budget; stats: also the utterance functionals."""
    nan = np.full(3, np.nan, np.float32)

    def make_example(row: dict) -> Example | None:
        u = row["utt_id"]
        t, c = data.avd.get(u), data.category.get(u, -1)
        if t is None and c < 0:
            return None
        return Example(u, row["feats"], avd=nan if t is None else t, stats=row.get("utt_stats"), category=c)

    return ShardDataset(split_dir, make_example, cfg.max_frames_per_batch, cfg.max_batch, stats=stats)
