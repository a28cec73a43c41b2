"""Segmentation of a long recording: the voice-activity cuts vs fixed 10-s windows, side by side in one run.

A recording is made by concatenating utterances (the demo's MSP-Podcast audio by default) with pauses of
0.5-2 s of quiet room noise (-50 dBFS) between them, so the true speech spans are known. `sa2sr predict`'s
segmentation (sa2sr_core.segments) is scored on it against the baseline it replaced, fixed windows of 10 s:

- boundary error: for each segment boundary, its distance to the nearest pause between utterances (0 inside
  one; an utterance's own leading and trailing silence counts as part of it);
- cuts inside speech: the share of cuts (segment ends that are not the file's end) that fall inside an
  utterance's voiced part (its frames within 35 dB of its loudest), i.e. through words.

It also scores the recording with the model (default models/sa2sr; a random paper-size model without one),
writes the segments table and the picture (`--out DIR`), and reports x real time end to end.

Usage: python benchmarks/segments.py [--minutes 10] [--source DIR] [--model models/sa2sr] [--out DIR]
       python benchmarks/segments.py --minutes 0.5 --model none   # smoke test
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from sa2sr_core.audio import AUDIO_EXTENSIONS, load_audio
from sa2sr_core.bundle import demo_notice, load_model
from sa2sr_core.predict import PredictConfig, predict_recordings
from sa2sr_core.throughput import paper_size_predictor
from sa2sr_core.timeline import plot_all

DEMO_AUDIO = Path("data/demo/msp_podcast/MSP-Podcast/Audios")


def espeak_utterances(n: int) -> list[np.ndarray]:
    from sa2sr_core.audio import resample
    from sa2sr_core.corpora.espeak import Espeak, Prosody
    from sa2sr_core.corpora.sentences import make_sentence
    from sa2sr_core.names import SENTIMENT_CLASSES

    rng, eng = random.Random(0), Espeak.get()
    return [resample(eng.synthesize(make_sentence(rng, SENTIMENT_CLASSES[i % 3], 2), "en-us",
                                    Prosody(rate=170, volume=100, pitch=50, range=50)), eng.sample_rate, 16000)
            for i in range(n)]


def voiced(x: np.ndarray) -> tuple[float, float]:
    """(first, last) second of an utterance's voiced part: 10-ms frames within 35 dB of its loudest."""
    n = len(x) // 160
    e = 10 * np.log10(np.mean(np.square(x[: n * 160].reshape(n, 160), dtype=np.float64), axis=1) + 1e-10)
    on = np.flatnonzero(e > e.max() - 35)
    return on[0] * 0.01, (on[-1] + 1) * 0.01


def make_recording(path: Path, utterances, minutes: float, seed: int = 0):
    """Utterances in random order with 0.5-2 s pauses until `minutes`; returns the utterances' spans and their
    voiced spans (s)."""
    rng, parts, spans, voiced_spans, t = np.random.default_rng(seed), [], [], [], 0.0
    order = rng.permutation(len(utterances))
    i = 0
    while t < minutes * 60:
        pause = float(rng.uniform(0.5, 2.0))
        parts.append((10 ** (-50 / 20) * rng.standard_normal(int(pause * 16000))).astype(np.float32))
        x = utterances[order[i % len(order)]]
        spans.append((t + pause, t + pause + len(x) / 16000))
        a, b = voiced(x)
        voiced_spans.append((t + pause + a, t + pause + b))
        parts.append(x.astype(np.float32))
        t += pause + len(x) / 16000
        i += 1
    parts.append((10 ** (-50 / 20) * rng.standard_normal(16000)).astype(np.float32))
    sf.write(path, np.concatenate(parts), 16000, subtype="PCM_16")
    return spans, voiced_spans


def boundary_errors(bounds: list[float], spans: list[tuple[float, float]]) -> np.ndarray:
    """Distance of each boundary to the nearest pause (0 when it lies in one)."""
    starts, ends = np.array([a for a, _ in spans]), np.array([b for _, b in spans])
    out = []
    for x in bounds:
        inside = (starts < x) & (x < ends)
        out.append(float(np.min(np.minimum(x - starts[inside], ends[inside] - x))) if inside.any() else 0.0)
    return np.array(out)


def cut_inside_speech(cuts: list[float], spans) -> float:
    return float(np.mean(boundary_errors(cuts, spans) > 0)) if cuts else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--source", default=str(DEMO_AUDIO), help="directory of utterances (default: the demo's)")
    ap.add_argument("--model", default="models/sa2sr")
    ap.add_argument("--out", default=None, help="write segments.csv and the picture here")
    args = ap.parse_args()
    src = Path(args.source)
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)[:400]
        utterances, source = [load_audio(p, 16000) for p in files], str(src)
    else:
        utterances, source = espeak_utterances(40), "espeak-ng utterances (no --source directory)"
    if Path(args.model).is_dir():
        (model, config), which = load_model(args.model), args.model
    else:
        (model, config), which = paper_size_predictor(), "random init, paper size (no model directory found)"
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "recording.wav"
        spans, voiced_spans = make_recording(rec, utterances, args.minutes)
        duration = spans[-1][1] + 1.0
        t0 = time.perf_counter()
        res = predict_recordings(model, config, [rec], PredictConfig(progress=False), log=lambda *_: None)
        dt = time.perf_counter() - t0
        segs = res.segments
        speech = segs[segs["kind"] != "non-speech"]
        bounds = [*speech["start_s"], *speech["end_s"]]
        cuts = [e for e in segs["end_s"][:-1]]
        err = boundary_errors(bounds, spans)
        windows = list(np.arange(10.0, duration, 10.0))
        report = {"source": source, "model": which, "recording_s": round(duration, 1), "utterances": len(spans),
                  "speech_segments": int((segs["kind"] == "speech").sum()),
                  "non_speech_segments": int((segs["kind"] == "non-speech").sum()),
                  "boundaries": len(bounds), "boundary_error_max_s": round(float(err.max()), 3),
                  "boundaries_within_0.5s": round(float(np.mean(err <= 0.5)), 4),
                  "vad_cuts_inside_speech": round(cut_inside_speech(cuts, voiced_spans), 4),
                  "fixed_10s_window_cuts_inside_speech": round(cut_inside_speech(windows, voiced_spans), 4),
                  "x_real_time": round(duration / dt, 1)}
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            segs.assign(path="recording.wav").to_csv(out / "segments.csv", index=False)
            files_df = res.files.assign(path="recording.wav")
            plot_all(files_df, segs.assign(path="recording.wav"), tuple(config["labels"]["scale"]), out,
                     demo_notice(config))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
