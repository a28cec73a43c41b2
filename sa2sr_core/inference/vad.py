"""Where the speech is in a recording: a voice-activity decision per 10 ms frame, and the recording cut into
speech segments at pauses (what `sa2sr predict` and `sa2sr serve` score) and the non-speech stretches between
them (reported, never scored). Two decisions (SegmentConfig.vad):

    silero (default): a trained detector, P(speech) per 32 ms (sa2sr_core.inference.silero) on each 10 ms frame;
                      speech from P >= speech_threshold until P < release_threshold (hysteresis)
    energy:           frame energy (dB) above max(min_level, min(noise floor + threshold, peak - dynamic range))

    speech runs: pauses shorter than min_pause bridged, runs shorter than min_speech dropped, padded by pad
    runs longer than max_segment: cut at the least speech-like frame of their last search_s seconds
                                  (the lowest P(speech), or the quietest frame)

An energy threshold calls every loud sound speech (music, hum, keyboards in the pauses); the trained detector
tells them apart. A recording no longer than max_segment is one utterance, scored whole (as the model was
trained on whole utterances) when it holds speech; only longer ones are cut. Memory: a few floats per 10 ms frame
for the decision, then the audio is streamed again and cut, one segment in memory at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from sa2sr_core.audio import AudioInfo, stream_audio
from sa2sr_core.config.inference import SegmentConfig

SPEECH, NON_SPEECH = "speech", "non-speech"
#: A file's status when the decision found no speech in it (noise, music, hum only): not an error, nothing scored.
NO_SPEECH = "no speech"
#: The statuses of files that were read as they should be (every other status is an error).
FINE = ("ok", NO_SPEECH)


@dataclass
class Segment:
    start: int  # first sample (at the model's rate)
    end: int  # one past the last sample
    kind: str  # SPEECH (scored) | NON_SPEECH (reported only)
    speech_share: float  # fraction of its 10 ms frames that the voice-activity decision calls speech

    def seconds(self, sample_rate: int) -> tuple[float, float]:
        return self.start / sample_rate, self.end / sample_rate


def frame_energies(chunks, hop: int, win: int) -> tuple[np.ndarray, int, float]:
    """Energy in dB of each `hop`-sample frame (a `win`-sample window starting there) over streamed chunks;
    returns (energies, total samples, peak absolute amplitude)."""
    out, buf, total, peak = [], np.zeros(0, np.float32), 0, 0.0
    for chunk in chunks:
        total += len(chunk)
        peak = max(peak, float(np.abs(chunk).max()) if len(chunk) else 0.0)
        buf = np.concatenate([buf, chunk])
        n = max(0, (len(buf) - win) // hop + 1)
        if n:
            idx = np.arange(n)[:, None] * hop + np.arange(win)[None, :]
            out.append(10 * np.log10(np.mean(np.square(buf[idx], dtype=np.float64), axis=1) + 1e-10))
            buf = buf[n * hop:]
    if len(buf):  # the tail: one last, shorter frame per hop
        for i in range(0, len(buf), hop):
            out.append(np.array([10 * np.log10(np.mean(np.square(buf[i:i + win], dtype=np.float64)) + 1e-10)]))
    return (np.concatenate(out) if out else np.zeros(0)), total, peak


@dataclass
class Decision:
    """The voice-activity decision per 10 ms frame: `speech` (bool) and `score` (higher = more speech-like: P(speech)
    or energy in dB; long runs are cut at its minimum), with the recording's length and peak."""

    speech: np.ndarray
    score: np.ndarray
    total: int
    peak: float


def decide(chunks, cfg: SegmentConfig, sample_rate: int, hop: int, win: int) -> Decision:
    """One pass over the streamed audio: frame energies (and the peak) always, Silero's probabilities as well when
    cfg.vad is "silero"."""
    if cfg.vad == "energy":
        energy, total, peak = frame_energies(chunks, hop, win)
        return Decision(energy_speech(energy, cfg), energy, total, peak)
    from sa2sr_core.inference import silero

    if sample_rate != silero.SAMPLE_RATE:
        raise ValueError(f"the Silero VAD runs at {silero.SAMPLE_RATE} Hz, the model's audio is at {sample_rate} Hz")
    stream = silero.SileroStream()

    def feed(chunks):
        for chunk in chunks:
            stream.feed(chunk)
            yield chunk

    energy, total, peak = frame_energies(feed(chunks), hop, win)
    probs = silero.on_frames(stream.finish(), len(energy), hop, win)
    return Decision(silero.hysteresis(probs, cfg.speech_threshold, cfg.release_threshold), probs, total, peak)


def energy_speech(energy_db: np.ndarray, cfg: SegmentConfig) -> np.ndarray:
    """The energy decision per frame (bool)."""
    if len(energy_db) == 0:
        return np.zeros(0, bool)
    floor = float(np.percentile(energy_db, cfg.floor_percentile))
    threshold = max(cfg.min_level_db, min(floor + cfg.threshold_db, float(energy_db.max()) - cfg.dynamic_range_db))
    return energy_db > threshold


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def plan_segments(speech: np.ndarray, score: np.ndarray, cfg: SegmentConfig, hop_s: float
                  ) -> list[tuple[int, int, str]]:
    """Frame ranges [a, b) covering every frame, each SPEECH or NON_SPEECH, in order, from the decision per frame
    (`speech`) and how speech-like each frame is (`score`: long runs are cut at its minimum)."""
    n, f = len(speech), lambda s: max(1, int(round(s / hop_s)))  # noqa: E731
    runs: list[tuple[int, int]] = []
    for a, b in _runs(speech):  # bridge short pauses
        if runs and a - runs[-1][1] < f(cfg.min_pause_s):
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    padded: list[tuple[int, int]] = []
    for a, b in runs:
        if b - a < f(cfg.min_speech_s):
            continue  # a click, not speech
        a, b = max(0, a - f(cfg.pad_s)), min(n, b + f(cfg.pad_s))
        if padded and a <= padded[-1][1]:
            padded[-1] = (padded[-1][0], b)
        else:
            padded.append((a, b))
    cut: list[tuple[int, int]] = []
    longest, search = f(cfg.max_segment_s), f(cfg.search_s)
    for a, b in padded:  # long runs: cut at the least speech-like frame near the length limit
        while b - a > longest:
            lo = a + longest - search
            c = lo + int(np.argmin(score[lo: a + longest]))
            if b - c < f(cfg.min_speech_s):
                break  # a sliver would remain: keep the run slightly over the limit instead
            cut.append((a, c))
            a = c
        cut.append((a, b))
    out, pos = [], 0
    for a, b in cut:
        if a > pos:
            out.append((pos, a, NON_SPEECH))
        out.append((a, b, SPEECH))
        pos = b
    if pos < n:
        out.append((pos, n, NON_SPEECH))
    return out


def _frame(sample_rate: int, frame_length_ms: float, frame_shift_ms: float) -> tuple[int, int]:
    """(hop, window) in samples."""
    return int(sample_rate * frame_shift_ms / 1000), int(sample_rate * frame_length_ms / 1000)


def _one_segment(d: Decision, cfg: SegmentConfig, hop_s: float) -> Segment:
    """The whole recording as one segment: SPEECH when it holds speech (energy: any speech frame; silero: a speech
    run of at least min_speech_s, so that one noisy frame does not make a recording of noise speech)."""
    need = 1 if cfg.vad == "energy" else max(1, int(round(cfg.min_speech_s / hop_s)))
    longest = max((b - a for a, b in _runs(d.speech)), default=0)
    share = float(d.speech.mean()) if len(d.speech) else 0.0
    return Segment(0, d.total, SPEECH if longest >= need else NON_SPEECH, share)


def whole_recording(samples: np.ndarray, cfg: SegmentConfig, sample_rate: int, frame_length_ms: float = 25.0,
                    frame_shift_ms: float = 10.0) -> tuple[list[Segment], float]:
    """A short recording, already decoded, as one segment; and its peak."""
    d = decide([samples], cfg, sample_rate, *_frame(sample_rate, frame_length_ms, frame_shift_ms))
    return [_one_segment(d, cfg, frame_shift_ms / 1000)], d.peak


def segment_audio(path: str | Path, info: AudioInfo, sample_rate: int, cfg: SegmentConfig,
                  frame_length_ms: float = 25.0, frame_shift_ms: float = 10.0) -> tuple[list[Segment], float]:
    """(the recording's segments in samples at `sample_rate`, its peak amplitude), from a first streaming pass
    (the decision only). A recording no longer than cfg.max_segment_s is one SPEECH segment when it holds speech
    (else one NON_SPEECH)."""
    hop, win = _frame(sample_rate, frame_length_ms, frame_shift_ms)
    d = decide(stream_audio(path, sample_rate, info=info), cfg, sample_rate, hop, win)
    if d.total <= cfg.max_segment_s * sample_rate:
        return [_one_segment(d, cfg, frame_shift_ms / 1000)], d.peak
    segs = []
    for a, b, kind in plan_segments(d.speech, d.score, cfg, frame_shift_ms / 1000):
        end = d.total if b == len(d.speech) else b * hop
        segs.append(Segment(a * hop, end, kind, float(d.speech[a:b].mean())))
    return segs, d.peak


def cut_audio(path: str | Path, info: AudioInfo, sample_rate: int, segments: list[Segment]
              ) -> Iterator[tuple[int, np.ndarray]]:
    """(index, samples) of each SPEECH segment, in order (second streaming pass; one segment in memory)."""
    todo = [(i, s) for i, s in enumerate(segments) if s.kind == SPEECH]
    buf, offset, k = np.zeros(0, np.float32), 0, 0  # buf holds samples [offset, offset + len(buf))
    for chunk in stream_audio(path, sample_rate, info=info):
        buf = np.concatenate([buf, chunk])
        while k < len(todo) and offset + len(buf) >= todo[k][1].end:
            i, s = todo[k]
            yield i, buf[s.start - offset: s.end - offset]
            k += 1
        keep = min(todo[k][1].start if k < len(todo) else offset + len(buf), offset + len(buf))
        buf, offset = buf[keep - offset:], keep  # drop what no segment still needs
    while k < len(todo):  # the last segment ends at the final sample
        i, s = todo[k]
        yield i, buf[s.start - offset: s.end - offset]
        k += 1
