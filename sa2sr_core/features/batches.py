"""Training data from feature shards: scan, length-sorted batching, padded collation, bounded memory.

One epoch reads the shards `pool` at a time (in a seeded random order), cuts the pool's utterances, sorted
by length, into batches under a frame budget, shuffles those batches (or, for a short-first epoch, keeps
them shortest first) and yields them: memory holds one pool of shards, and padding stays small. Under DDP
every rank plans the same batches and takes every world-th one (truncated to a multiple of the world size,
so ranks stay in step).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow.parquet as pq
import torch

from sa2sr_core.features.shards import feature_column, frames_from_batch, shard_files, stats_from_batch


@dataclass
class Example:
    utt_id: str
    feats: np.ndarray  # (T, F): LFBE (F = 40) or PCM frames (F = 160)
    tokens: list[int] = field(default_factory=list)
    sentiment: int = -1
    avd: np.ndarray | None = None  # (3,) activation, valence, dominance
    stats: np.ndarray | None = None  # (K,) functionals of the unnormalised LFBE (sa2sr_core.features.functionals)
    category: int = -1  # the emotion class's index (fine-tuning on categories); -1: none
    text: np.ndarray | None = None  # (E,) text features (sa2sr_core.features.text), when the route reads text


@dataclass
class Batch:
    utt_ids: list[str]
    feats: torch.Tensor  # (B, T, F), zero padded
    lengths: torch.Tensor  # (B,)
    tokens: torch.Tensor  # (B, S) CTC token ids, zero padded
    token_lengths: torch.Tensor  # (B,)
    sentiment: torch.Tensor  # (B,)
    avd: torch.Tensor  # (B, 3)
    stats: torch.Tensor  # (B, K) utterance functionals; (B, 0) when not read
    category: torch.Tensor | None = None  # (B,) emotion class index, -1 where an utterance has none
    text: torch.Tensor | None = None  # (B, E) text features; None when the route reads no text

    def _map(self, fn) -> "Batch":
        tensors = (self.feats, self.lengths, self.tokens, self.token_lengths, self.sentiment, self.avd, self.stats,
                   self.category, self.text)
        return Batch(self.utt_ids, *(None if t is None else fn(t) for t in tensors))

    def to(self, device, non_blocking: bool = False) -> "Batch":
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "Batch":
        """Page-locked host copies, so that .to(cuda, non_blocking=True) overlaps the copy with compute."""
        return self._map(lambda t: t.pin_memory())


_DONE = object()


def prefetch(batches: Iterator[Batch], depth: int, pin: bool = False) -> Iterator[Batch]:
    """Run `batches` (shard reading, batching, collation) in a background thread, at most `depth` batches ahead
    of the consumer (memory stays bounded), pinning each batch when `pin`. depth 0: in the caller's thread.
    An exception in the reader is raised in the consumer."""
    if depth <= 0:
        yield from batches
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop, errors = threading.Event(), []

    def work():
        try:
            for b in batches:
                if stop.is_set():
                    return
                q.put(b.pin_memory() if pin else b)
        except BaseException as e:  # handed to the consumer
            errors.append(e)
        finally:
            q.put(_DONE)

    t = threading.Thread(target=work, name="sa2sr-prefetch", daemon=True)
    t.start()
    try:
        while (b := q.get()) is not _DONE:
            yield b
    finally:
        stop.set()
        while t.is_alive():  # let a blocked reader finish its put and see the stop flag
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.01)
    if errors:
        raise errors[0]


def collate(examples: list[Example]) -> Batch:
    B = len(examples)
    T = max(e.feats.shape[0] for e in examples)
    F = examples[0].feats.shape[1]
    feats = np.zeros((B, T, F), np.float32)
    for i, e in enumerate(examples):
        feats[i, : e.feats.shape[0]] = e.feats
    S = max(1, max(len(e.tokens) for e in examples))
    tokens = np.zeros((B, S), np.int64)
    for i, e in enumerate(examples):
        tokens[i, : len(e.tokens)] = e.tokens
    avd = np.stack([e.avd if e.avd is not None else np.full(3, np.nan, np.float32) for e in examples])
    stats = (np.stack([e.stats for e in examples]) if examples[0].stats is not None
             else np.zeros((B, 0), np.float32))
    return Batch(
        [e.utt_id for e in examples], torch.from_numpy(feats),
        torch.tensor([e.feats.shape[0] for e in examples]), torch.from_numpy(tokens),
        torch.tensor([len(e.tokens) for e in examples]), torch.tensor([e.sentiment for e in examples]),
        torch.from_numpy(avd.astype(np.float32)), torch.from_numpy(stats.astype(np.float32)),
        torch.tensor([e.category for e in examples], dtype=torch.long),
        torch.from_numpy(np.stack([e.text for e in examples]).astype(np.float32)) if examples[0].text is not None
        else None,
    )


def plan_batches(lengths: np.ndarray, max_frames: int, max_batch: int, sort: bool = True) -> list[np.ndarray]:
    """Index batches whose padded size (B x longest) stays within max_frames. sort=False keeps the given
    order (the padded baseline: random order, fixed budget)."""
    order = np.argsort(lengths, kind="stable") if sort else np.arange(len(lengths))
    batches, cur, longest = [], [], 0
    for i in order:
        new_longest = max(longest, int(lengths[i]))
        if cur and (new_longest * (len(cur) + 1) > max_frames or len(cur) >= max_batch):
            batches.append(np.array(cur))
            cur, new_longest = [], int(lengths[i])
        cur.append(i)
        longest = new_longest
    if cur:
        batches.append(np.array(cur))
    return batches


class ShardDataset:
    """Batches from the shards of one split. `make_example(row) -> Example | None` filters and converts rows
    (row: dict of the shard's non-feature columns plus 'feats', the frames of either kind)."""

    def __init__(self, split_dir: str | Path, make_example: Callable[[dict], Example | None], max_frames: int = 20000,
                 max_batch: int = 64, sort: bool = True, columns: tuple[str, ...] = ("utt_id",), pool: int = 1,
                 stats: bool = False):
        self.files = shard_files(split_dir)
        if not self.files:
            raise FileNotFoundError(f"no feature shards under {split_dir}: run `dvc repro features` first")
        self.make_example = make_example
        self.max_frames, self.max_batch, self.sort, self.pool = max_frames, max_batch, sort, max(1, int(pool))
        self.columns = list(dict.fromkeys(["utt_id", "num_frames", *columns]))
        self.stats = stats  # also read the utt_stats column (row key 'utt_stats')

    def _examples(self, path: Path) -> list[Example]:
        extra = [feature_column(pq.read_schema(path), path)] + (["utt_stats"] if self.stats else [])
        table = pq.read_table(path, columns=self.columns + extra)
        meta = table.drop(extra).to_pylist()
        feats, stats = [], []
        for b in table.to_batches():
            feats += frames_from_batch(b)
            if self.stats:
                stats += list(stats_from_batch(b))
        out = []
        for i, (row, f) in enumerate(zip(meta, feats)):
            ex = self.make_example({**row, "feats": f, **({"utt_stats": stats[i]} if self.stats else {})})
            if ex is not None:
                out.append(ex)
        return out

    def _pools(self, order: np.ndarray) -> list[list[Path]]:
        files = [self.files[i] for i in order]
        return [files[i: i + self.pool] for i in range(0, len(files), self.pool)]

    def count_batches(self, keep: Callable[[str], bool], world: int = 1) -> int:
        """Batches per epoch (per rank) for the utterances `keep` accepts, from ids and lengths only (for
        schedules that need the planned number of updates). Exact when the shards fit one pool; otherwise the
        epoch's random pooling can change it by a few batches."""
        n = 0
        for pool in self._pools(np.arange(len(self.files))):
            lengths = []
            for path in pool:
                t = pq.read_table(path, columns=["utt_id", "num_frames"]).to_pydict()
                lengths += [f for u, f in zip(t["utt_id"], t["num_frames"]) if keep(u)]
            if lengths:
                n += len(plan_batches(np.array(lengths), self.max_frames, self.max_batch, self.sort)) // world
        return n

    def epoch(self, epoch: int, seed: int, shuffle: bool = True, rank: int = 0, world: int = 1,
              short_first: bool = False) -> Iterator[Batch]:
        """One pass. shuffle: random shard order and batch order; short_first: batches in ascending length
        within each pool (SortaGrad, Amodei et al. 2016: an easier start for CTC)."""
        rng = np.random.default_rng([seed, epoch])
        for pool in self._pools(rng.permutation(len(self.files)) if shuffle else np.arange(len(self.files))):
            examples = [e for path in pool for e in self._examples(path)]
            if not examples:
                continue
            lengths = np.array([e.feats.shape[0] for e in examples])
            if shuffle and not self.sort:
                perm = rng.permutation(len(examples))
                examples, lengths = [examples[i] for i in perm], lengths[perm]
            batches = plan_batches(lengths, self.max_frames, self.max_batch, self.sort)
            if shuffle and not short_first:
                batches = [batches[i] for i in rng.permutation(len(batches))]
            if world > 1:
                batches = batches[: len(batches) // world * world][rank::world]
            for idx in batches:
                yield collate([examples[i] for i in idx])
