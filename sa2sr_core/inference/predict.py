"""`sa2sr predict`: score audio files with a model directory, per file and per segment.

Each file is decoded, down-mixed and resampled to the model's rate, and cut into segments at pauses by a
voice-activity decision (sa2sr_core.inference.vad; a file no longer than `segment.max_segment_s` is one utterance,
decoded exactly as in training). Speech segments become the same normalised LFBE as in training and are
length-sorted into batches under a padded-frame budget, across files; non-speech stretches are reported, not
scored. A file's activation / valence / dominance and sentiment probabilities are the duration-weighted means
over its scored segments; its transcript is theirs joined by spaces. Memory is bounded: files are streamed,
one segment at a time, and at most `buffer_frames` of features wait for the model.

The numbers do not depend on what a file is batched with, its place in a batch, the batch size, `workers` or
the device beyond float rounding (every layer masks padding; tested to 1e-4), so `sa2sr serve`, which batches
the segments of concurrent requests together, gives the same numbers as `sa2sr predict` on the same file.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch

from sa2sr_core.audio import AUDIO_EXTENSIONS, AudioError, AudioInfo, load_audio, probe_audio
from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.config.inference import PredictConfig, SegmentConfig
from sa2sr_core.features.batches import plan_batches
from sa2sr_core.features.fbank import extract_features_and_stats
from sa2sr_core.inference.vad import FINE, NO_SPEECH, SPEECH, Segment, cut_audio, segment_audio, whole_recording
from sa2sr_core.models.directory import ModelDirConfig
from sa2sr_core.models.predictor import Predictor
from sa2sr_core.models.sa2sr import greedy_decode
from sa2sr_core.names import DIMS, SENTIMENT_CLASSES, class_column
from sa2sr_core.vocab import decode

PROBS = tuple(f"p_{c}" for c in SENTIMENT_CLASSES)
SCORES = (*DIMS, *PROBS, "transcript", *(f"{d}_raw" for d in DIMS))
COLUMNS = ("path", "status", "duration_s", "segments", "speech_s", *SCORES)
SEGMENT_COLUMNS = ("path", "segment", "start_s", "end_s", "kind", "speech_share", *SCORES)


def class_columns(classes: tuple[str, ...]) -> tuple[str, ...]:
    """The columns a model with a categorical head adds: the most probable class, then P(class) for each."""
    return ("category", *(class_column(c) for c in classes)) if classes else ()


#: The columns a model with the text route adds: which transcript it read (model: its own CTC one; user:
#: --transcripts) and that transcript.
TEXT_COLUMNS = ("text_input", "text_read")
TOO_SHORT = "speech, too short to score"


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


def model_fbank(config: ModelDirConfig) -> FeatureConfig:
    """The feature config a model directory was trained with."""
    return config.feature_config


@dataclass
class Recording:
    """One file on its way through the model: its segments, and the scores of the speech ones."""

    path: str
    duration: float = 0.0
    status: str = "ok"
    segments: list[Segment] = field(default_factory=list)
    scores: dict[int, tuple] = field(default_factory=dict)  # segment -> (frames, avd, probs, text, class probs|None,
    #                                                                    the transcript the text route read|None)
    classes: tuple[str, ...] = ()  # the model's emotion classes (a categorical head), if it has one
    text_input: str | None = None  # a model with the text route: "model" (its own transcript) or "user"
    user_text: str | None = None  # the user's transcript of the whole file (--transcripts)
    sample_rate: int = 16000
    frame_s: float = 0.01  # feature frame shift: scores' weights are frames

    def features(self, info: AudioInfo, fbank: FeatureConfig, seg: SegmentConfig, min_frames: int
                 ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(segment index, frames (LFBE or PCM, as the model was trained), functionals) of each speech segment long
        enough to score; raises AudioError for a file that cannot be scored (silent, speech too short); a file
        without speech yields nothing and gets the status NO_SPEECH."""
        sr = self.sample_rate = fbank.sample_rate
        self.frame_s = fbank.frame_shift_ms / 1000
        need = ((min_frames - 1) * fbank.frame_shift_ms + (fbank.frame_length_ms if fbank.kind == "lfbe"
                                                            else fbank.frame_shift_ms)) / 1000
        if info.duration_s <= seg.max_segment_s:  # one utterance: decoded once, exactly as in training
            x = load_audio(self.path, sr)
            if fbank.num_frames(len(x)) < min_frames:  # too short to score, whatever it holds
                raise AudioError(self.path, f"too short: {len(x) / sr:.3f} s, the model needs at least {need:.3f} s")
            self.segments, peak = whole_recording(x, seg, sr, fbank.frame_length_ms, fbank.frame_shift_ms)
            pieces = iter([(0, x)] if self.segments[0].kind == SPEECH else [])
        else:  # streamed twice: the voice-activity decision, then the cuts
            self.segments, peak = segment_audio(self.path, info, sr, seg, fbank.frame_length_ms, fbank.frame_shift_ms)
            pieces = cut_audio(self.path, info, sr, self.segments)
        self.duration = (self.segments[-1].end / sr) if self.segments else 0.0
        if peak < fbank.silence_peak:
            raise AudioError(self.path, f"silent (peak amplitude {peak:.2g} < {fbank.silence_peak:g})")
        n = 0
        for i, x in pieces:
            if fbank.num_frames(len(x)) < min_frames:
                self.segments[i].kind = TOO_SHORT
                continue
            n += 1
            yield (i, *extract_features_and_stats(x, fbank))
        if n == 0:
            if any(s.kind == TOO_SHORT for s in self.segments):
                longest = max(s.end - s.start for s in self.segments if s.kind == TOO_SHORT) / sr
                raise AudioError(self.path, f"too short: {longest:.3f} s of speech, the model needs at least "
                                            f"{need:.3f} s")
            self.status = NO_SPEECH  # noise, music, hum only: reported with its segments, nothing scored

    def _scores(self, parts, scale) -> dict:
        w = np.array([p[0] for p in parts], np.float64)
        avd = np.average(np.stack([p[1] for p in parts]), axis=0, weights=w)
        probs = np.average(np.stack([p[2] for p in parts]), axis=0, weights=w)
        row = {**{d: float(np.clip(v, *scale)) for d, v in zip(DIMS, avd)},
               **{p: float(v) for p, v in zip(PROBS, probs)},
               "transcript": " ".join(t for t in (p[3] for p in parts) if t),
               **{f"{d}_raw": float(v) for d, v in zip(DIMS, avd)}}
        if self.classes:  # the class probabilities averaged like everything else; the category is their argmax
            cp = np.average(np.stack([p[4] for p in parts]), axis=0, weights=w)
            row.update({"category": self.classes[int(np.argmax(cp))],
                        **{class_column(c): float(v) for c, v in zip(self.classes, cp)}})
        if self.text_input:  # every segment of a file reads the user's whole transcript; the model's own: its own
            read = self.user_text or "" if self.text_input == "user" else " ".join(p[5] for p in parts if p[5])
            row.update({"text_input": self.text_input, "text_read": read})
        return row

    def _empty(self) -> dict:
        """The score columns of a file or segment with nothing scored: NaN, and empty text."""
        row = {c: math.nan for c in (*SCORES, *class_columns(self.classes))}
        row["transcript"] = ""
        if self.classes:
            row["category"] = ""
        if self.text_input:
            row.update({"text_input": self.text_input, "text_read": ""})
        return row

    def file_row(self, scale: tuple[float, float]) -> dict:
        """A/V/D clipped into the corpus scale (the regressor is linear, so an unusual recording can land
        outside it); the unclipped values are kept in <dim>_raw."""
        ok = self.status == "ok" and self.scores
        row = {"path": self.path, "status": self.status, "duration_s": round(self.duration, 3),
               "segments": len(self.scores) if ok else 0,
               "speech_s": round(sum(self.scores[i][0] for i in self.scores) * self.frame_s, 2) if ok else 0.0}
        if ok:
            row.update(self._scores([self.scores[i] for i in sorted(self.scores)], scale))
        else:
            row.update(self._empty())
        return row

    def segment_rows(self, scale: tuple[float, float]) -> list[dict]:
        if self.status not in FINE:
            return []
        rows = []
        for i, s in enumerate(self.segments):
            start, end = s.seconds(self.sample_rate)
            row = {"path": self.path, "segment": i, "start_s": round(start, 3), "end_s": round(end, 3),
                   "kind": s.kind, "speech_share": round(s.speech_share, 3)}
            if i in self.scores:
                row.update(self._scores([self.scores[i]], scale))
            else:
                row.update(self._empty())
            rows.append(row)
        return rows


def forward(model: Predictor, device: torch.device, items: list[tuple[np.ndarray, np.ndarray]], route=None,
            user: list | None = None) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray | None, list | None]:
    """One padded forward pass over (frames, functionals) items: (avd (B, 3), sentiment probs (B, 3), texts,
    class probs (B, C) or None without a categorical head, the transcripts the text route read or None). A model
    with the text route (`route`, sa2sr_core.inference.text) reads `user`'s transcripts, or else its own: the
    encoders run once, the transcript is decoded, and the regressor reads its text features."""
    # subnormal floats computed at full cost made an SSL model's sentiment LSTM up to 50x slower on CPU (measured);
    # flushing them to zero changes no score beyond 1e-30 (process-wide, in the processes that run inference)
    torch.set_flush_denormal(True)
    with torch.inference_mode():
        feats = torch.zeros(len(items), max(len(f) for f, _ in items), items[0][0].shape[1])  # (B, T, F)
        for b, (f, _) in enumerate(items):
            feats[b, : len(f)] = torch.from_numpy(f)
        lengths = torch.tensor([len(f) for f, _ in items])
        stats = torch.from_numpy(np.stack([st for _, st in items])).to(device) if model.stats_dim else None
        h, h_emotion, out_lengths = model.encode(feats.to(device), lengths.to(device))
        probs, log_probs = model.speech(h, out_lengths)
        texts = [decode(ids) for ids in greedy_decode(log_probs, out_lengths)]
        read = text = None
        if model.text_dim:
            read = list(user) if user is not None else route.own_transcripts(log_probs, out_lengths, texts)
            text = torch.from_numpy(route.features(read)).to(device)  # (B, E)
        avd, *cls = model.emotion(h_emotion, out_lengths, stats, text)
        return (avd.float().cpu().numpy(), probs.float().cpu().numpy(), texts,
                cls[0].float().cpu().numpy() if cls else None, read)


class Scorer:
    """Batches the speech segments of many recordings through a Predictor."""

    def __init__(self, model: Predictor, config: ModelDirConfig, cfg: PredictConfig, device: torch.device,
                 route=None):
        self.model, self.cfg, self.device, self.route = model, cfg, device, route
        self.fbank = model_fbank(config)
        self.min_frames = model.min_frames()
        self.queue: list[tuple[int, int, np.ndarray, np.ndarray]] = []  # (recording, segment, feats, stats)
        self.queued_frames = 0
        self.on_scored = lambda seconds: None  # progress callback: audio seconds just scored

    def add(self, ri: int, si: int, feats: np.ndarray, stats: np.ndarray) -> None:
        self.queue.append((ri, si, feats, stats))
        self.queued_frames += len(feats)

    def drop(self, ri: int) -> None:
        """Forget a failed recording's queued segments."""
        self.queue = [it for it in self.queue if it[0] != ri]
        self.queued_frames = sum(len(it[2]) for it in self.queue)

    def flush(self, recordings: list[Recording]) -> None:
        """Score everything queued. On CPU, `workers` batches run at once, each on one core: the LSTMs' small
        matrix products scale worse over cores within a batch than across batches (measured)."""
        queue, self.queue, self.queued_frames = self.queue, [], 0
        lengths = np.array([len(it[2]) for it in queue])
        batches = [[queue[i] for i in idx] for idx in plan_batches(lengths, self.cfg.max_frames_per_batch,
                                                                   self.cfg.max_batch)]
        def run(batch):
            user = None
            if self.route is not None and recordings[batch[0][0]].text_input == "user":  # --transcripts: all or none
                user = [recordings[ri].user_text for ri, *_ in batch]
            return forward(self.model, self.device, [(f, st) for *_, f, st in batch], self.route, user)

        workers = self.cfg.workers if self.device.type == "cpu" else 1
        if workers > 1 and len(batches) > 1:
            from concurrent.futures import ThreadPoolExecutor

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                with ThreadPoolExecutor(workers) as pool:
                    for batch, out in zip(batches, pool.map(run, batches)):
                        self._collect(recordings, batch, *out)
            finally:
                torch.set_num_threads(threads)
        else:
            for batch in batches:
                self._collect(recordings, batch, *run(batch))

    def _collect(self, recordings, batch, avd, probs, texts, cls, read) -> None:
        for b, (ri, si, f, _) in enumerate(batch):
            recordings[ri].scores[si] = (len(f), avd[b], probs[b], texts[b], None if cls is None else cls[b],
                                         None if read is None else read[b])
        self.on_scored(sum(len(f) for _, _, f, _ in batch) * self.fbank.frame_shift_ms / 1000)


@dataclass
class Predictions:
    files: pd.DataFrame  # one row per file (COLUMNS)
    segments: pd.DataFrame  # one row per segment of each scored file (SEGMENT_COLUMNS)


def predict_recordings(model: Predictor, config: ModelDirConfig, paths, cfg: PredictConfig, device=None,
                       log=lambda m: print(m, file=sys.stderr), transcripts=None, model_dir="") -> Predictions:
    """Score every audio file under `paths`: per file and per segment. Bad files get status 'error: ...'
    (also logged) and NaN scores; every good file is still scored. A model with the text route reads each
    segment's own transcript, or with `transcripts` (a CSV of path, transcript) the user's for the whole file."""
    from tqdm import tqdm

    from sa2sr_core.inference.text import OWN, USER, TextRoute, TextRouteError, read_transcripts

    device = device or next(model.parameters()).device
    files, missing = find_audio(paths)
    if transcripts is not None and not model.text_dim:
        raise TextRouteError(f"--transcripts {transcripts}: {model_dir or 'this model'} has no text route (it was "
                             f"fine-tuned with finetune.text.source none): it reads no transcript")
    route = TextRoute(model.cfg.emotion.regressor.text, model_dir) if model.text_dim else None
    user = read_transcripts(transcripts, files) if transcripts is not None else None
    scorer = Scorer(model, config, cfg, device, route)
    classes = model.classes
    recordings = [Recording(str(p), classes=classes, text_input=None if route is None else USER if user else OWN,
                            user_text=user[str(p)] if user else None) for p in files]
    infos: list[AudioInfo | AudioError] = []
    for p in files:  # header reads once: the progress bar's total, and the files that fail before decoding
        try:
            infos.append(probe_audio(p))
        except AudioError as e:
            infos.append(e)
    total_s = sum(i.duration_s for i in infos if isinstance(i, AudioInfo))
    bar = tqdm(total=round(total_s, 1), desc="predict", unit="s", disable=not cfg.progress, file=sys.stderr,
               bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]")
    # frames x hop counts a file's last partial frame whole: never past the files' total seconds
    scorer.on_scored = lambda seconds: bar.update(max(0.0, min(seconds, bar.total - bar.n)))
    for ri, rec in enumerate(recordings):
        try:
            if isinstance(infos[ri], AudioError):
                raise infos[ri]
            for si, feats, stats in rec.features(infos[ri], scorer.fbank, cfg.segment, scorer.min_frames):
                scorer.add(ri, si, feats, stats)
                if scorer.queued_frames >= cfg.buffer_frames:
                    scorer.flush(recordings)
        except AudioError as e:
            rec.status, rec.scores = f"error: {e.reason}", {}
            log(f"sa2sr predict: {e}")
            scorer.drop(ri)
    scorer.flush(recordings)
    bar.update(bar.total - bar.n)  # the silence the VAD left out, and the files that failed, are done too
    bar.close()
    scale = config.scale
    rows = [r.file_row(scale) for r in recordings] + [Recording(p, status=s, classes=classes).file_row(scale)
                                                      for p, s in missing]
    for row in rows:  # the files that failed before scoring still say what the text route would have read
        if route is not None:
            row.setdefault("text_input", USER if user else OWN)
            row.setdefault("text_read", "")
    for p, s in missing:
        log(f"sa2sr predict: {p}: {s[len('error: '):]}")
    segs = [row for r in recordings for row in r.segment_rows(scale)]
    extra = list(class_columns(classes)) + (list(TEXT_COLUMNS) if route is not None else [])
    return Predictions(pd.DataFrame(rows, columns=[*COLUMNS, *extra]),
                       pd.DataFrame(segs, columns=[*SEGMENT_COLUMNS, *extra]))


def write_segments(path: str | Path, segments: pd.DataFrame) -> None:
    """The segments table as CSV, or as JSON lines when `path` ends in .jsonl (atomically)."""
    from sa2sr_core.io import atomic_path, write_csv

    path = Path(path)
    if path.suffix == ".jsonl":
        with atomic_path(path) as tmp:
            segments.to_json(tmp, orient="records", lines=True, force_ascii=False)
    else:
        write_csv(path, segments)
