"""`sa2sr predict`: score audio files with a model directory.

Files are decoded, down-mixed and resampled to the model's rate, cut into windows when long, turned into the
same normalised LFBE as in training, length-sorted into batches under a padded-frame budget and run through
the Predictor. Memory is bounded: long files are streamed block by block (soundfile + a soxr resampling
stream), and at most `buffer_frames` of features wait for the model at any time.

Long files: windows of about `window_s` (10) seconds, each cut at the quietest 25 ms frame in its last `search_s`
seconds (so cuts fall in pauses, not in words). A file's activation / valence / dominance and sentiment
probabilities are the duration-weighted means of its windows'; its transcript is the windows' transcripts
joined by spaces.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch

from sa2sr_core.audio import AUDIO_EXTENSIONS, AudioError, AudioInfo, load_audio, probe_audio, stream_audio
from sa2sr_core.features import FbankConfig, extract_lfbe_and_stats
from sa2sr_core.models.predictor import Predictor
from sa2sr_core.models.sa2sr import greedy_decode
from sa2sr_core.names import DIMS, SENTIMENT_CLASSES
from sa2sr_core.vocab import decode

PROBS = tuple(f"p_{c}" for c in SENTIMENT_CLASSES)
COLUMNS = ("path", "status", "duration_s", "windows", *DIMS, *PROBS, "transcript", *(f"{d}_raw" for d in DIMS))


@dataclass
class PredictConfig:
    max_frames_per_batch: int = 12000  # padded frames (B x longest) per forward pass
    max_batch: int = 64
    buffer_frames: int = 200000  # features decoded ahead of the model (~33 min of audio, ~32 MB)
    window_s: float = 10.0  # long files are scored in windows of about this length (the model was trained on
    search_s: float = 2.0  # utterances of a few seconds), cut at the quietest frame of their last search_s seconds
    device: str = "auto"
    workers: int = 0  # CPU: batches scored at once, one core each (0: all cores)
    progress: bool = True

    def __post_init__(self):
        if self.workers <= 0:
            self.workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def find_audio(paths) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to score (directories searched recursively for audio extensions, sorted) and (path, error) for
    arguments that do not exist."""
    files, missing = [], []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS
                            and not f.name.startswith("._"))
        elif p.exists():
            files.append(p)
        else:
            missing.append((str(p), "error: no such file or directory"))
    return files, missing


def _quietest_cut(x: np.ndarray, lo: int, hi: int, frame: int) -> int:
    """Sample index in [lo, hi) at the start of the lowest-energy `frame`-sample frame (hop frame/2)."""
    seg = x[lo:hi]
    n = max(1, (len(seg) - frame) // (frame // 2) + 1)
    energy = [float(np.square(seg[i * (frame // 2): i * (frame // 2) + frame]).sum()) for i in range(n)]
    return lo + int(np.argmin(energy)) * (frame // 2) + frame // 2


def iter_windows(path: Path, sample_rate: int, window_s: float, search_s: float, block_s: float = 10.0,
                 info: AudioInfo | None = None) -> Iterator[np.ndarray]:
    """Mono float32 windows of `path` at `sample_rate`. Short files: one window, decoded exactly as in training.
    Long files: streamed, cut in pauses; raises AudioError naming the file on any decoding problem.
    `info`: the file's probe_audio result, when the caller already has it."""
    info = info or probe_audio(path)  # missing, empty, not audio, truncated WAV -> AudioError
    if info.duration_s <= window_s + search_s:
        yield load_audio(path, sample_rate)
        return
    win, search, frame = int(window_s * sample_rate), int(search_s * sample_rate), int(0.025 * sample_rate)
    buf = np.zeros(0, np.float32)
    for chunk in stream_audio(path, sample_rate, block_s, info):
        buf = np.concatenate([buf, chunk])
        while len(buf) >= win + search:
            cut = _quietest_cut(buf, win - search, win, frame)
            yield _checked(path, buf[:cut])
            buf = buf[cut:]
    if len(buf) > win:  # split the rest in two near its middle
        cut = _quietest_cut(buf, len(buf) // 2 - search // 2, len(buf) // 2 + search // 2, frame)
        yield _checked(path, buf[:cut])
        buf = buf[cut:]
    if len(buf):
        yield _checked(path, buf)


def _checked(path, x: np.ndarray) -> np.ndarray:
    if not np.isfinite(x).all():
        raise AudioError(path, "audio contains NaN or infinite samples")
    return x


@dataclass
class _FileResult:
    path: str
    duration: float = 0.0
    status: str = "ok"
    parts: list | None = None  # (frames, avd, probs, text) per window, in order


class Scorer:
    """Batches windows of many files through a Predictor and assembles per-file rows."""

    def __init__(self, model: Predictor, config: dict, cfg: PredictConfig, device: torch.device):
        self.model, self.cfg, self.device = model, cfg, device
        self.fbank = FbankConfig(**{k: v for k, v in config["features"].items() if k in FbankConfig.__dataclass_fields__})
        self.min_frames = model.min_frames()
        self.queue: list[tuple[int, int, np.ndarray, np.ndarray]] = []  # (file index, window index, feats, stats)
        self.queued_frames = 0
        self.on_scored = lambda seconds: None  # progress callback: audio seconds just scored

    def add(self, fi: int, wi: int, feats: np.ndarray, stats: np.ndarray) -> None:
        self.queue.append((fi, wi, feats, stats))
        self.queued_frames += len(feats)

    def _batches(self, items) -> list[list]:
        """Longest first, batches under the padded-frame budget."""
        items = sorted(items, key=lambda it: -len(it[2]))
        out, i = [], 0
        while i < len(items):
            n = max(1, min(self.cfg.max_batch, self.cfg.max_frames_per_batch // len(items[i][2]), len(items) - i))
            out.append(items[i: i + n])
            i += n
        return out

    def _run(self, batch) -> tuple[np.ndarray, np.ndarray, list[str]]:
        with torch.inference_mode():
            feats = torch.zeros(len(batch), len(batch[0][2]), batch[0][2].shape[1])  # (B, T, 40), longest first
            for b, (_, _, f, _) in enumerate(batch):
                feats[b, : len(f)] = torch.from_numpy(f)
            lengths = torch.tensor([len(f) for _, _, f, _ in batch])
            stats = torch.from_numpy(np.stack([st for *_, st in batch])).to(self.device) if self.model.stats_dim else None
            avd, probs, log_probs, out_lengths = self.model(feats.to(self.device), lengths.to(self.device), stats)
            texts = [decode(ids) for ids in greedy_decode(log_probs, out_lengths)]
            return avd.float().cpu().numpy(), probs.float().cpu().numpy(), texts

    def flush(self, results: list[_FileResult]) -> None:
        """Score everything queued. On CPU, `workers` batches run at once, each on one core: the LSTMs' small
        matrix products scale worse over cores within a batch than across batches (measured)."""
        batches = self._batches(self.queue)
        self.queue, self.queued_frames = [], 0
        workers = self.cfg.workers if self.device.type == "cpu" else 1
        if workers > 1:
            from concurrent.futures import ThreadPoolExecutor

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                with ThreadPoolExecutor(workers) as pool:
                    outputs = pool.map(self._run, batches)
                    for batch, out in zip(batches, outputs):
                        self._collect(results, batch, *out)
            finally:
                torch.set_num_threads(threads)
        else:
            for batch in batches:
                self._collect(results, batch, *self._run(batch))

    def _collect(self, results, batch, avd, probs, texts) -> None:
        for b, (fi, wi, f, _) in enumerate(batch):
            results[fi].parts[wi] = (len(f), avd[b], probs[b], texts[b])
        self.on_scored(sum(len(f) for _, _, f, _ in batch) * self.fbank.frame_shift_ms / 1000)


def _row(r: _FileResult, scale: tuple[float, float]) -> dict:
    """One CSV row: A/V/D clipped into the corpus scale (the regressor is linear, so an unusual recording can
    land outside it); the unclipped values are kept in <dim>_raw."""
    row = {"path": r.path, "status": r.status, "duration_s": round(r.duration, 3),
           "windows": len(r.parts or []) if r.status == "ok" else 0}
    if r.status == "ok":
        w = np.array([p[0] for p in r.parts], np.float64)
        avd = np.average(np.stack([p[1] for p in r.parts]), axis=0, weights=w)
        probs = np.average(np.stack([p[2] for p in r.parts]), axis=0, weights=w)
        row.update({d: float(np.clip(v, *scale)) for d, v in zip(DIMS, avd)})
        row.update({f"{d}_raw": float(v) for d, v in zip(DIMS, avd)})
        row.update({f"p_{c}": float(v) for c, v in zip(SENTIMENT_CLASSES, probs)})
        row["transcript"] = " ".join(t for t in (p[3] for p in r.parts) if t)
    else:
        row.update({d: math.nan for d in (*DIMS, *PROBS, *(f"{d}_raw" for d in DIMS))})
        row["transcript"] = ""
    return row


def predict_files(model: Predictor, config: dict, paths, cfg: PredictConfig, device=None,
                  log=lambda m: print(m, file=sys.stderr)) -> pd.DataFrame:
    """One row per file (COLUMNS); bad files get status 'error: ...' (also logged) and NaN scores."""
    from tqdm import tqdm

    device = device or next(model.parameters()).device
    files, missing = find_audio(paths)
    scorer = Scorer(model, config, cfg, device)
    results = [_FileResult(str(p), parts=[]) for p in files]
    sr = scorer.fbank.sample_rate
    infos: list[AudioInfo | AudioError] = []
    for p in files:  # header reads once: the progress bar's total, and the files that fail before decoding
        try:
            infos.append(probe_audio(p))
        except AudioError as e:
            infos.append(e)
    total_s = sum(i.duration_s for i in infos if isinstance(i, AudioInfo))
    bar = tqdm(total=round(total_s, 1), desc="predict", unit="s", disable=not cfg.progress, file=sys.stderr,
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]")
    scorer.on_scored = bar.update
    for fi, path in enumerate(files):
        r = results[fi]
        try:
            if isinstance(infos[fi], AudioError):
                raise infos[fi]
            peak, short = 0.0, False
            for x in iter_windows(path, sr, cfg.window_s, cfg.search_s, info=infos[fi]):
                r.duration += len(x) / sr
                peak = max(peak, float(np.abs(x).max()) if len(x) else 0.0)
                if peak < scorer.fbank.silence_peak:
                    continue  # silence so far: nothing to score (a silent pause inside a long file is skipped)
                if scorer.fbank.num_frames(len(x)) < scorer.min_frames:
                    short = True
                    continue  # the file is too short, or this is a sliver at the end of a long file
                r.parts.append(None)
                scorer.add(fi, len(r.parts) - 1, *extract_lfbe_and_stats(x, scorer.fbank))
                if scorer.queued_frames >= cfg.buffer_frames:
                    scorer.flush(results)
            if not r.parts:
                if peak < scorer.fbank.silence_peak:
                    raise AudioError(path, f"silent (peak amplitude {peak:.2g} < {scorer.fbank.silence_peak:g})")
                need = ((scorer.min_frames - 1) * scorer.fbank.frame_shift_ms + scorer.fbank.frame_length_ms) / 1000
                raise AudioError(path, f"too short: {r.duration:.3f} s, the model needs at least {need:.3f} s"
                                 if short else "no audio to score")
        except AudioError as e:
            r.status = f"error: {e.reason}"
            r.parts = []
            log(f"sa2sr predict: {e}")
            scorer.queue = [it for it in scorer.queue if it[0] != fi]  # drop the failed file's queued windows
            scorer.queued_frames = sum(len(it[2]) for it in scorer.queue)
    scorer.flush(results)
    bar.close()
    scale = tuple(config["labels"]["scale"])
    rows = [_row(r, scale) for r in results] + [_row(_FileResult(p, status=s), scale) for p, s in missing]
    for p, s in missing:
        log(f"sa2sr predict: {p}: {s[len('error: '):]}")
    return pd.DataFrame(rows, columns=list(COLUMNS))
