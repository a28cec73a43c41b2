"""Voice activity on recordings as people make them: the trained detector (Silero VAD) vs the energy decision,
side by side in one run.

A recording is made of real speech (../shared/data: LibriSpeech, CREMA-D, every 24th RAVDESS file; the demo's
utterances where that is absent) joined by 2-4 s pauses that hold non-speech in turn (stationary room noise, mains
hum with harmonics, synthesised instrumental music, keyboard clicks: benchmarks/fixtures.non_speech) at each
`--below` dB under the speech, with pink noise 20 dB under the speech over the whole recording. The truth per
10-ms frame: speech is each utterance's speech span, a pause is an inserted pause. For each VAD and level:

- pause_scored: the share of pause time inside a speech segment (what the model would score), overall and per kind;
- speech_scored: the share of speech time inside a speech segment;
- boundaries_within_0.5s: the share of speech-segment starts and ends within 0.5 s of a gap: at least 0.2 s of
  pause or of an utterance's own quiet frames (its leading, trailing and inner silences, as benchmarks/segments.py);
- vad_x_real_time: the decision alone (sa2sr_core.inference.vad.segment_audio, streamed from the file), one core;
- predict_x_real_time: `sa2sr predict` on the recording end to end with that VAD (decision, cuts, features, the
  model on every core; default models/sa2sr, a random paper-size model without one).

Usage: python benchmarks/vad.py [--minutes 5] [--below 0 6 12] [--model models/sa2sr] [--source DIR]
       python benchmarks/vad.py --minutes 0.5 --below 6 --model none   # smoke test
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from fixtures import (NON_SPEECH_KINDS, SHARED_DATA, NoisyRecording, gap_distance, noisy_recording,
                      paper_size_predictor, real_utterances, scored_frames)
from sa2sr_core.audio import probe_audio
from sa2sr_core.config.inference import VADS, PredictConfig, SegmentConfig
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.inference.vad import SPEECH, segment_audio
from sa2sr_core.models.packaged import load_model


def score_vad(path: Path, rec: NoisyRecording, vad: str) -> dict:
    """One VAD on one recording: the shares of pause and speech time scored, boundaries near a gap, speed."""
    info = probe_audio(path)
    segment_audio(path, info, 16000, SegmentConfig(vad=vad))  # warm-up: the ONNX session, the reader
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core (the Silero session runs on one thread already)
    try:
        t0 = time.perf_counter()
        segs, _ = segment_audio(path, info, 16000, SegmentConfig(vad=vad))
        dt = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
    scored = scored_frames(segs, len(rec.speech))
    bounds = [x for s in segs if s.kind == SPEECH for x in s.seconds(16000)]
    err = gap_distance(bounds, rec.quiet)
    return {"pause_scored": round(float(scored[rec.pause].mean()), 3),
            "pause_scored_by_kind": {k: round(float(scored[rec.kind == k].mean()), 3) for k in NON_SPEECH_KINDS
                                     if (rec.kind == k).any()},
            "speech_scored": round(float(scored[rec.speech].mean()), 3),
            "speech_segments": sum(s.kind == SPEECH for s in segs),
            "boundaries_within_0.5s": round(float(np.mean(err <= 0.5)), 3) if bounds else None,
            "vad_x_real_time": round(info.duration_s / dt, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--below", type=float, nargs="+", default=[0.0, 6.0, 12.0],
                    help="non-speech level in the pauses, dB below the speech")
    ap.add_argument("--source", default=str(SHARED_DATA), help="../shared/data (LibriSpeech, CREMA-D, RAVDESS)")
    ap.add_argument("--model", default="models/sa2sr")
    args = ap.parse_args()
    utterances, source = real_utterances(Path(args.source))
    if Path(args.model).is_dir():
        (model, config), which = load_model(args.model), args.model
    else:
        (model, config), which = paper_size_predictor(), "random init, paper size (no model directory found)"
    report = {"source": source, "model": which, "threads": torch.get_num_threads(), "levels": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for below in args.below:
            rec = noisy_recording(utterances, below, seconds=args.minutes * 60)
            path = Path(tmp) / f"noisy_{below:g}dB.wav"
            sf.write(path, rec.audio, 16000, subtype="FLOAT")
            level = {"recording_s": round(len(rec.audio) / 16000, 1)}
            for vad in VADS:
                level[vad] = score_vad(path, rec, vad)
                cfg = PredictConfig(segment=SegmentConfig(vad=vad), progress=False)
                t0 = time.perf_counter()
                res = predict_recordings(model, config, [path], cfg, log=lambda *_: None)
                level[vad]["predict_x_real_time"] = round(len(rec.audio) / 16000 / (time.perf_counter() - t0), 1)
                level[vad]["file_status"] = str(res.files["status"].iloc[0])
            report["levels"][f"{below:g}dB_below"] = level
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
