"""Segmentation of a long recording: the voice-activity cuts vs fixed 10-s windows, side by side in one run.

A recording is made by concatenating utterances (the demo's MSP-Podcast audio by default) with pauses of
0.5-2 s of quiet room noise (-50 dBFS) between them, so the true speech spans are known. `sa2sr predict`'s
segmentation (sa2sr_core.inference.vad) is scored on it against the baseline it replaced, fixed windows of 10 s:

- the truth: a gap is a run of at least 0.2 s of quiet 10-ms frames: the inserted pauses, and the frames of an
  utterance less than 20 dB above its own noise floor (its leading, trailing and inner silences);
- boundary error: for each speech segment's start and end, its distance to the nearest gap (0 inside one);
- cuts inside speech: the share of the cuts (every segment end but the file's) that lie in no gap, i.e. cut
  through speech.

It also scores the recording with the model (default models/sa2sr; a random paper-size model without one),
writes the segments table and the picture (`--out DIR`), and reports x real time end to end.

Usage: python benchmarks/segments.py [--minutes 10] [--source DIR] [--model models/sa2sr] [--vad silero|energy]
                                    [--out DIR]
       python benchmarks/segments.py --minutes 0.5 --model none   # smoke test
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from fixtures import DEMO_MSP_AUDIO, gap_distance, paper_size_predictor, speech_utterances
from sa2sr_core.config.inference import VADS, PredictConfig, SegmentConfig
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.inference.timeline import plot_all
from sa2sr_core.models.directory import demo_notice
from sa2sr_core.models.packaged import load_model


def _energies(x: np.ndarray) -> np.ndarray:
    n = len(x) // 160
    return 10 * np.log10(np.mean(np.square(x[: n * 160].reshape(n, 160), dtype=np.float64), axis=1) + 1e-10)


def make_recording(path: Path, utterances, minutes: float, seed: int = 0):
    """Utterances in random order with 0.5-2 s pauses of -50 dBFS noise until `minutes`. Returns the pauses
    as the truth sees them: per 10-ms frame, whether it is quiet (an inserted pause, or a frame of an utterance
    less than 20 dB above that utterance's own noise floor: its leading, trailing and inner silences)."""
    rng, parts, quiet, t = np.random.default_rng(seed), [], [], 0.0
    order = rng.permutation(len(utterances))
    i = 0
    while t < minutes * 60:
        pause = (10 ** (-50 / 20) * rng.standard_normal(int(rng.uniform(50, 200)) * 160)).astype(np.float32)
        x = utterances[order[i % len(order)]].astype(np.float32)
        x = x[: len(x) // 160 * 160]
        e = _energies(x)
        parts += [pause, x]
        quiet += [np.ones(len(pause) // 160, bool), e < np.percentile(e, 10) + 20]
        t += (len(pause) + len(x)) / 16000
        i += 1
    parts.append((10 ** (-50 / 20) * rng.standard_normal(16000)).astype(np.float32))
    quiet.append(np.ones(100, bool))
    sf.write(path, np.concatenate(parts), 16000, subtype="PCM_16")
    return np.concatenate(quiet), i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--source", default=str(DEMO_MSP_AUDIO), help="directory of utterances (default: the demo's)")
    ap.add_argument("--model", default="models/sa2sr")
    ap.add_argument("--vad", choices=VADS, default=SegmentConfig.vad, help="the voice-activity decision")
    ap.add_argument("--out", default=None, help="write segments.csv and the picture here")
    args = ap.parse_args()
    utterances, source = speech_utterances(Path(args.source), 400, 40)
    if Path(args.model).is_dir():
        (model, config), which = load_model(args.model), args.model
    else:
        (model, config), which = paper_size_predictor(), "random init, paper size (no model directory found)"
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "recording.wav"
        quiet, n_utts = make_recording(rec, utterances, args.minutes)
        duration = len(quiet) * 0.01
        t0 = time.perf_counter()
        cfg = PredictConfig(segment=SegmentConfig(vad=args.vad), progress=False)
        res = predict_recordings(model, config, [rec], cfg, log=lambda *_: None)
        dt = time.perf_counter() - t0
        segs = res.segments
        speech = segs[segs["kind"] != "non-speech"]
        bounds = [*speech["start_s"], *speech["end_s"]]
        err = gap_distance(bounds, quiet)
        cuts = list(segs["end_s"][:-1])  # every place the recording is cut
        windows = list(np.arange(10.0, duration, 10.0))
        report = {"source": source, "model": which, "vad": args.vad, "recording_s": round(duration, 1),
                  "utterances": n_utts,
                  "speech_segments": int((segs["kind"] == "speech").sum()),
                  "non_speech_segments": int((segs["kind"] == "non-speech").sum()),
                  "boundaries": len(bounds), "boundary_error_max_s": round(float(err.max()), 3),
                  "boundaries_within_0.5s": round(float(np.mean(err <= 0.5)), 4),
                  "vad_cuts_inside_speech": round(float(np.mean(gap_distance(cuts, quiet) > 0)), 4),
                  "fixed_10s_window_cuts_inside_speech": round(float(np.mean(gap_distance(windows, quiet) > 0)), 4),
                  "x_real_time": round(duration / dt, 1)}
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            segs.assign(path="recording.wav").to_csv(out / "segments.csv", index=False)
            files_df = res.files.assign(path="recording.wav")
            plot_all(files_df, segs.assign(path="recording.wav"), config.scale, out,
                     demo_notice(config))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
