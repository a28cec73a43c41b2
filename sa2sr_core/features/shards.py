"""Feature shards: plan, extract in parallel, write atomically, resume, and stream back.

Layout: <features_dir>/<corpus>/<split>/shard-00000.parquet with schema
    utt_id: string, num_frames: int32,
    lfbe: list<fixed_size_list<float32|float16>[F]>   (features kind "lfbe", the BiLSTM's input)
      or pcm: list<fixed_size_list<int16>[160]>       (kind "waveform": 16-bit PCM in 10 ms hops, an SSL encoder's),
    source_utt_id: string, speed: float32, speaker: string, text: string,
    activation / valence / dominance: float32 (null where the corpus has none), category: string (or null),
    utt_stats: fixed_size_list<float32>[2F + 4] (functionals of the *unnormalised* LFBE, sa2sr_core.features.functionals)
Each shard's Parquet metadata holds a fingerprint of its inputs and config, and the rejects found
while making it: a rerun skips shards whose fingerprint matches, so an interrupted run resumes
without redoing finished shards, and stale shards from another plan are removed.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from sa2sr_core.audio import AudioError, load_audio
from sa2sr_core.config.features import FeatureConfig, functionals_dim
from sa2sr_core.features.fbank import extract_features_and_stats, speed_perturb
from sa2sr_core.io import atomic_path
from sa2sr_core.names import DIMS

META_KEY = b"sa2sr"
SCHEMA_VERSION = 3  # 2: utt_stats column; 3: category column; part of every shard's fingerprint, so older shards are re-extracted
#: The frames column of each features kind.
FEATURE_COLUMNS = {"lfbe": "lfbe", "waveform": "pcm"}


@dataclass(frozen=True)
class Job:
    """One utterance to extract (a speed-perturbed copy is its own job)."""

    utt_id: str
    source_utt_id: str
    path: str
    speed: float
    speaker: str
    text: str | None
    activation: float | None
    valence: float | None
    dominance: float | None
    duration_s: float
    category: str | None = None  # the manifest's emotion class (any names), where the corpus has one


@dataclass
class ShardPlan:
    path: Path
    jobs: list[Job]

    def fingerprint(self, cfg: FeatureConfig) -> str:
        h = hashlib.sha1(json.dumps({**asdict(cfg), "schema": SCHEMA_VERSION}, sort_keys=True).encode())
        for j in self.jobs:
            h.update(json.dumps(asdict(j), sort_keys=True, default=str).encode())
        return h.hexdigest()


def _none_if_nan(x):
    return None if x is None or (isinstance(x, float) and np.isnan(x)) else x


def make_jobs(manifest: pd.DataFrame, speeds: list[float]) -> list[Job]:
    """Jobs for every manifest row, plus one `sp<factor>-<utt_id>` copy per speed factor (Kaldi convention)."""
    jobs = []
    for row in manifest.sort_values("utt_id").itertuples(index=False):
        base = dict(source_utt_id=row.utt_id, path=row.path, speaker=row.speaker, text=_none_if_nan(row.text),
                    activation=_none_if_nan(row.activation), valence=_none_if_nan(row.valence),
                    dominance=_none_if_nan(row.dominance), category=_none_if_nan(getattr(row, "emotion", None)))
        jobs.append(Job(utt_id=row.utt_id, speed=1.0, duration_s=float(row.duration_s), **base))
        for s in speeds:
            jobs.append(Job(utt_id=f"sp{s:g}-{row.utt_id}", speed=float(s), duration_s=float(row.duration_s) / s,
                            **base))
    return jobs


def plan_shards(jobs: list[Job], out_dir: Path, max_seconds: float) -> list[ShardPlan]:
    """Cut jobs, in order, into shards of at most `max_seconds` of audio (at least one job each)."""
    shards, cur, acc = [], [], 0.0
    for job in jobs:
        if cur and acc + job.duration_s > max_seconds:
            shards.append(cur)
            cur, acc = [], 0.0
        cur.append(job)
        acc += job.duration_s
    if cur:
        shards.append(cur)
    return [ShardPlan(out_dir / f"shard-{i:05d}.parquet", s) for i, s in enumerate(shards)]


ARROW_DTYPES = {"float32": pa.float32(), "float16": pa.float16(), "int16": pa.int16()}


def storage_dtype(cfg: FeatureConfig) -> str:
    return "int16" if cfg.kind == "waveform" else cfg.dtype


def _frames_array(feats: list[np.ndarray], width: int, dtype: str = "float32") -> pa.Array:
    """list<fixed_size_list<dtype>[width]> built from flat buffers, no per-frame Python objects. int16: the frames
    are PCM on the 16-bit grid (k / 32768) and are stored as k."""
    lengths = np.array([f.shape[0] for f in feats], dtype=np.int32)
    offsets = np.zeros(len(feats) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate([f.reshape(-1) for f in feats]) if feats else np.zeros(0, np.float32)
    if dtype == "int16":
        flat = np.round(flat * 32768.0)
    frames = pa.FixedSizeListArray.from_arrays(pa.array(flat.astype(dtype, copy=False), type=ARROW_DTYPES[dtype]),
                                               width)
    return pa.ListArray.from_arrays(pa.array(offsets), frames)


def shard_schema(cfg: FeatureConfig) -> pa.Schema:
    return pa.schema([
        ("utt_id", pa.string()), ("num_frames", pa.int32()),
        (FEATURE_COLUMNS[cfg.kind], pa.list_(pa.list_(ARROW_DTYPES[storage_dtype(cfg)], cfg.frame_dim))),
        ("source_utt_id", pa.string()), ("speed", pa.float32()), ("speaker", pa.string()), ("text", pa.string()),
        *[(c, pa.float32()) for c in DIMS], ("category", pa.string()),
        ("utt_stats", pa.list_(pa.float32(), functionals_dim(cfg.num_mel_bins))),
    ])


def build_table(jobs: list[Job], feats: list[np.ndarray], stats: list[np.ndarray], cfg: FeatureConfig) -> pa.Table:
    cols = {
        "utt_id": pa.array([j.utt_id for j in jobs], pa.string()),
        "num_frames": pa.array([f.shape[0] for f in feats], pa.int32()),
        FEATURE_COLUMNS[cfg.kind]: _frames_array(feats, cfg.frame_dim, storage_dtype(cfg)),
        "source_utt_id": pa.array([j.source_utt_id for j in jobs], pa.string()),
        "speed": pa.array([j.speed for j in jobs], pa.float32()),
        "speaker": pa.array([j.speaker for j in jobs], pa.string()),
        "text": pa.array([j.text for j in jobs], pa.string()),
    }
    for c in DIMS:
        cols[c] = pa.array([getattr(j, c) for j in jobs], pa.float32())
    cols["category"] = pa.array([j.category for j in jobs], pa.string())
    k = functionals_dim(cfg.num_mel_bins)
    flat = np.concatenate(stats).astype(np.float32) if stats else np.zeros(0, np.float32)
    cols["utt_stats"] = pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), k)
    return pa.Table.from_pydict(cols, schema=shard_schema(cfg))


def extract_job(job: Job, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Decode, perturb, check and featurise one job -> (frames (T, F) of cfg.kind as configured, functionals of the
    unnormalised LFBE (2F + 4,)); raises AudioError naming the file and the problem."""
    wave = load_audio(job.path, cfg.sample_rate)
    if np.abs(wave).max() < cfg.silence_peak:
        raise AudioError(job.path, f"silent audio (peak amplitude below {cfg.silence_peak})")
    wave = speed_perturb(wave, job.speed, cfg.sample_rate)
    if cfg.num_frames(len(wave)) == 0:
        raise AudioError(job.path, f"shorter than one {cfg.frame_length_ms:g} ms frame ({len(wave)} samples)")
    return extract_features_and_stats(wave, cfg)


def write_shard(plan: ShardPlan, cfg: FeatureConfig) -> tuple[int, list[dict]]:
    """Extract every job of `plan` and write its shard atomically. Returns (utterances written, rejects)."""
    import torch

    torch.set_num_threads(1)
    done, feats, stats, rejects = [], [], [], []
    for job in plan.jobs:
        try:
            f, st = extract_job(job, cfg)
            feats.append(f)
            stats.append(st)
            done.append(job)
        except AudioError as e:
            rejects.append({"file": e.path, "utt_id": job.utt_id, "reason": e.reason})
    table = build_table(done, feats, stats, cfg)
    meta = {"fingerprint": plan.fingerprint(cfg), "rejects": rejects, "fbank": asdict(cfg)}
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    with atomic_path(plan.path) as tmp:
        pq.write_table(table, tmp, compression="lz4", row_group_size=256)
    return len(done), rejects


def read_shard_meta(path: Path) -> dict | None:
    try:
        md = pq.read_schema(path).metadata or {}
        return json.loads(md[META_KEY])
    except Exception:  # unreadable or foreign file: treat as not done
        return None


def extract_split(manifest: pd.DataFrame, out_dir: str | Path, cfg: FeatureConfig, speeds: list[float],
                  max_seconds: float = 1800.0, workers: int = 1, desc: str = "") -> dict:
    """Extract one (corpus, split) into shards under `out_dir`, resuming finished shards.

    Returns {"utterances", "frames", "shards", "reused_shards", "rejects": [...]}.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_shards(make_jobs(manifest, speeds), out_dir, max_seconds)
    wanted = {p.path.name for p in plans}
    for stale in out_dir.iterdir():  # shards of an older plan, temp files of a killed run
        if stale.name not in wanted:
            stale.unlink()
    todo, rejects, reused = [], [], 0
    for p in plans:
        meta = read_shard_meta(p.path) if p.path.exists() else None
        if meta is not None and meta.get("fingerprint") == p.fingerprint(cfg):
            rejects += meta["rejects"]
            reused += 1
        else:
            todo.append(p)
    total = sum(len(p.jobs) for p in todo)
    with tqdm(total=total, desc=desc or str(out_dir), unit="utt", disable=total == 0) as bar:
        if workers <= 1 or len(todo) <= 1:
            for p in todo:
                _, rej = write_shard(p, cfg)
                rejects += rej
                bar.update(len(p.jobs))
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                futures = {pool.submit(write_shard, p, cfg): p for p in todo}
                for fut in as_completed(futures):
                    _, rej = fut.result()
                    rejects += rej
                    bar.update(len(futures[fut].jobs))
    frames = utts = 0
    for p in plans:  # one small read per shard gives both totals
        n = pq.read_table(p.path, columns=["num_frames"])["num_frames"].to_numpy()
        utts, frames = utts + len(n), frames + int(n.sum())
    return {"utterances": utts, "frames": frames, "shards": len(plans), "reused_shards": reused, "rejects": rejects}


def feature_column(schema: pa.Schema, where: str | Path = "") -> str:
    """The frames column of a shard ("lfbe" or "pcm")."""
    for name in FEATURE_COLUMNS.values():
        if schema.get_field_index(name) >= 0:
            return name
    raise ValueError(f"{where or 'shard'}: no feature column ({' or '.join(FEATURE_COLUMNS.values())}); "
                     f"re-run `dvc repro features`")


def frames_from_batch(batch: pa.RecordBatch) -> list[np.ndarray]:
    """The frames column of a batch as a list of (T, F) float32 arrays: LFBE (views on Arrow memory; float16
    shards are widened once per batch) or PCM frames as k / 32768."""
    name = feature_column(batch.schema)
    col = batch.column(batch.schema.get_field_index(name))
    width = col.type.value_type.list_size
    flat = col.values.values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, width)
    if name == "pcm":
        flat = flat * np.float32(1 / 32768)
    offsets = col.offsets.to_numpy()
    return [flat[offsets[i]: offsets[i + 1]] for i in range(len(col))]


def stats_from_batch(batch: pa.RecordBatch) -> np.ndarray:
    """The `utt_stats` column of a batch as an (N, K) float32 array."""
    col = batch.column(batch.schema.get_field_index("utt_stats"))
    return col.values.to_numpy(zero_copy_only=False).reshape(len(col), col.type.list_size)


def shard_files(split_dir: str | Path | tuple) -> list[Path]:
    """A split's shards; a split made of several folders (a cross-validation fold's training sessions: a tuple of
    them) has theirs in the order given."""
    dirs = split_dir if isinstance(split_dir, (tuple, list)) else (split_dir,)
    return [f for d in dirs for f in sorted(Path(d).glob("shard-*.parquet"))]
