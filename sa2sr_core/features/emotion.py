"""Emotion data from feature shards: which utterances have usable labels (A/V/D on the corpus scale, and/or an
emotion class), their batches, and the utterance functionals stored beside them. Shared by fine-tuning, the
baselines and evaluation, so that all of them see the same utterances."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sa2sr_core.corpora.finetuning import resolve_task
from sa2sr_core.errors import Sa2srError
from sa2sr_core.features.batches import Example, ShardDataset
from sa2sr_core.features.shards import shard_files, stats_from_batch
from sa2sr_core.names import DIMS


#: What fine-tuning learns: A/V/D (the paper), emotion classes, or both with one loss.
TASKS = ("dimensions", "categories", "both")


@dataclass
class SplitTable:
    """The labels, lengths and utterance functionals of every utterance of a split's shards, read in one pass
    (no features): what fine-tuning set-up, the baselines and evaluation decide from, without reading again."""

    ids: list[str]
    num_frames: np.ndarray  # (N,)
    avd: np.ndarray  # (N, 3) float64: NaN where a dimension is missing
    category: list  # (N,) class name or None
    stats: np.ndarray | None  # (N, K) float32 utterance functionals; None: the shards have no utt_stats column
    missing_stats: Path | None = None  # the first shard without utt_stats (named when functionals are asked for)
    text: np.ndarray | None = None  # (N, E) float32 text features (sa2sr_core.features.text), when the route reads text

    @cached_property
    def row(self) -> dict[str, int]:
        """utt_id -> its row (built once per table: read_stats and read_inputs index with it)."""
        return {u: i for i, u in enumerate(self.ids)}


def read_split(split_dir, text=None) -> SplitTable:
    """One pass over a split's shards (a tuple of folders for a fold): utt_id, num_frames, A/V/D, category and the
    utterance functionals, never the feature sequences; with `text` (a TextFeatures), each utterance's text vector."""
    files = shard_files(split_dir)
    if not files:
        raise FileNotFoundError(f"no feature shards under {split_dir}: run `dvc repro features` first")
    ids, frames, avd, cats, stats, missing = [], [], [], [], [], None
    for path in files:
        names = pq.read_schema(path).names
        cols = ["utt_id", "num_frames", *(c for c in (*DIMS, "category", "utt_stats") if c in names)]
        table = pq.read_table(path, columns=cols)
        n = table.num_rows
        ids += table.column("utt_id").to_pylist()
        frames += table.column("num_frames").to_pylist()
        avd.append(np.stack([np.array([np.nan if v is None else v for v in table.column(d).to_pylist()], np.float64)
                             if d in names else np.full(n, np.nan) for d in DIMS], axis=1) if n else np.zeros((0, 3)))
        cats += table.column("category").to_pylist() if "category" in names else [None] * n
        if "utt_stats" in names:
            stats += [stats_from_batch(b) for b in table.to_batches()]
        elif missing is None:
            missing = path
    return SplitTable(ids, np.asarray(frames, np.int64), np.concatenate(avd), cats,
                      None if missing is not None else np.concatenate(stats).astype(np.float32) if stats else
                      np.zeros((0, 0), np.float32), missing, None if text is None else text.vectors(ids))


def as_table(source) -> SplitTable:
    return source if isinstance(source, SplitTable) else read_split(source)


@dataclass
class EmotionData:
    avd: dict[str, np.ndarray]  # utt_id -> (3,) activation, valence, dominance (utterances with usable A/V/D)
    skipped: dict[str, int]
    category: dict[str, int] = field(default_factory=dict)  # utt_id -> class index (utterances with a known class)
    classes: tuple[str, ...] = ()
    table: SplitTable | None = None  # what it was scanned from (its functionals: read_stats)

    @property
    def ids(self) -> list[str]:
        """Every usable utterance, sorted."""
        return sorted(set(self.avd) | set(self.category))


def train_labels(source) -> tuple[bool, tuple[str, ...]]:
    """(whether any utterance has all of A/V/D, the sorted class names) of a (training) split."""
    t = as_table(source)
    dims = bool((~np.isnan(t.avd).any(axis=1)).any()) if len(t.ids) else False
    return dims, tuple(sorted({c for c in t.category if c}))


def task_and_classes(task: str, auto: str, source) -> tuple[str, tuple[str, ...]]:
    """finetune.task with `auto` decided by the fine-tuning corpus's rule (`auto`: FinetuneCorpus.auto_task) from
    the training split's labels, and the classes a categorical head gets (none for dimensions)."""
    dims, classes = train_labels(source)
    task = resolve_task(task, auto, dims, bool(classes))
    return task, classes if task != "dimensions" else ()


class MissingStatsError(Sa2srError):
    pass


def read_stats(source, ids) -> np.ndarray:
    """(len(ids), K) utterance functionals of `ids`, in the order of `ids`, from a split's table (or EmotionData
    scanned from one, or its folder)."""
    t = source.table if isinstance(source, EmotionData) and source.table is not None else as_table(source)
    if t.stats is None:
        raise MissingStatsError(f"{t.missing_stats} has no utt_stats column (made by an older sa2sr): "
                                f"re-run `dvc repro features`")
    row = t.row
    if not len(ids):
        return np.zeros((0, t.stats.shape[1] if t.stats.ndim == 2 else 0), np.float32)
    return t.stats[[row[u] for u in ids]].astype(np.float32)


def read_inputs(source, ids, stats: bool = True, text: bool = True) -> np.ndarray:
    """(len(ids), K + E) side inputs of `ids`: the utterance functionals (stats) and the text features (text, where
    the table has them), side by side in that order: what the classical models and the regressor's linear path read."""
    t = source.table if isinstance(source, EmotionData) and source.table is not None else as_table(source)
    parts = [read_stats(t, ids)] if stats else []
    if text and t.text is not None:
        row = t.row
        parts.append(t.text[[row[u] for u in ids]] if len(ids) else np.zeros((0, t.text.shape[1]), np.float32))
    if not parts:
        raise ValueError("no side input asked for: neither functionals nor text features")
    return np.concatenate(parts, axis=1).astype(np.float32)


def scan_emotion_split(source, cfg, min_frames: int, task: str = "dimensions",
                       classes: tuple[str, ...] = ()) -> EmotionData:
    """Utterances with usable labels for `task` (A/V/D inside cfg.scale_min..cfg.scale_max; a category among
    `classes`) and enough frames; count the rest. source: a split's folder or its SplitTable."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    t = as_table(source)
    dims, cats = task in ("dimensions", "both"), task in ("categories", "both")
    index = {c: i for i, c in enumerate(classes)}
    avd, category = {}, {}
    skipped = {"missing_or_nan_label": 0, "label_outside_scale": 0, "too_short_for_regressor": 0}
    if cats:
        skipped["category_not_in_train"] = 0
    for u, frames, values, cat in zip(t.ids, t.num_frames, t.avd, t.category):
        has_dims = dims and not np.isnan(values).any()
        name = cat if cats else None
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
        if frames < min_frames:
            skipped["too_short_for_regressor"] += 1
            continue
        if has_dims:
            avd[u] = values.astype(np.float32)
        if name:
            category[u] = index[name]
    return EmotionData(avd, skipped, category, tuple(classes), t)


def make_emotion_dataset(split_dir, data: EmotionData, cfg, stats: bool = False) -> ShardDataset:
    """Batches of a split's usable utterances under cfg's frame budget; stats: also the utterance functionals; the
    text features too when the scanned table has them."""
    nan = np.full(3, np.nan, np.float32)
    table = data.table
    text = table.text if table is not None else None  # (N, E) by the table's rows

    def make_example(row: dict) -> Example | None:
        u = row["utt_id"]
        t, c = data.avd.get(u), data.category.get(u, -1)
        if t is None and c < 0:
            return None
        return Example(u, row["feats"], avd=nan if t is None else t, stats=row.get("utt_stats"), category=c,
                       text=None if text is None else text[table.row[u]])

    return ShardDataset(split_dir, make_example, cfg.max_frames_per_batch, cfg.max_batch, stats=stats)
