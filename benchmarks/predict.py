"""`sa2sr predict` throughput: batched vs one file at a time, side by side in one run.

Both score the same files with the same model through the same code (sa2sr_core.inference.predict.predict_recordings):
decoding, resampling, segmentation, LFBE and the model, end to end. "one file at a time" runs one segment per
forward pass on the usual intra-op threads; "batched" length-sorts segments into batches under a padded-frame
budget and runs `workers` batches at once, one core each. Reported: files/s and x real time (audio seconds per second).

Audio: N espeak-ng utterances (real synthetic speech, 2-7 s, 22.05 kHz as espeak makes it, so resampling is
part of the work). Model: --model DIR (default models/sa2sr); without one, a randomly initialised model of
the paper's size (5 x BiLSTM(192)), which costs the same to run.

Usage: python benchmarks/predict.py [--files 120] [--model models/sa2sr]
       python benchmarks/predict.py --files 3 --model none   # smoke test
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch

from fixtures import paper_size_predictor
from sa2sr_core.config.inference import PredictConfig
from sa2sr_core.corpora.espeak import Espeak, Prosody
from sa2sr_core.corpora.sentences import make_sentence
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.models.packaged import load_model
from sa2sr_core.names import SENTIMENT_CLASSES


def make_audio(root: Path, n: int) -> float:
    rng, eng, total = random.Random(0), Espeak.get(), 0.0
    voices = ["en-us", "en", "en-gb-scotland", "en-029"]
    for i in range(n):
        wav = eng.synthesize(make_sentence(rng, SENTIMENT_CLASSES[i % 3], rng.randint(1, 3)), voices[i % 4],
                             Prosody(rate=rng.randint(150, 210), volume=100, pitch=rng.randint(35, 65), range=50))
        sf.write(root / f"u{i:04d}.wav", wav, eng.sample_rate)
        total += len(wav) / eng.sample_rate
    return total


def run(model, config, root: Path, audio_s: float, n: int, cfg: PredictConfig) -> dict:
    t0 = time.perf_counter()
    df = predict_recordings(model, config, [root], cfg, log=lambda *_: None).files
    dt = time.perf_counter() - t0
    assert (df["status"] == "ok").all() and len(df) == n
    return {"seconds": round(dt, 2), "files_per_s": round(n / dt, 2), "x_real_time": round(audio_s / dt, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=120)
    ap.add_argument("--model", default="models/sa2sr")
    args = ap.parse_args()
    if Path(args.model).is_dir():
        (model, config), which = load_model(args.model), args.model
    else:
        (model, config), which = paper_size_predictor(), "random init, paper size (no model directory found)"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        audio_s = make_audio(root, args.files)
        predict_recordings(model, config, [root / "u0000.wav"], PredictConfig(progress=False)).files  # warm-up
        batched = PredictConfig(progress=False)
        report = {"model": which, "files": args.files, "audio_seconds": round(audio_s, 1),
                  "torch_threads": torch.get_num_threads(), "workers": batched.workers,
                  "one_file_at_a_time": run(model, config, root, audio_s, args.files,
                                            PredictConfig(progress=False, max_batch=1, workers=1)),
                  "batched_one_worker": run(model, config, root, audio_s, args.files,
                                            PredictConfig(progress=False, workers=1)),
                  "batched": run(model, config, root, audio_s, args.files, batched)}
    report["speedup_batched_vs_one_at_a_time"] = round(
        report["batched"]["x_real_time"] / report["one_file_at_a_time"]["x_real_time"], 2)
    report["target_50x_real_time_met"] = report["batched"]["x_real_time"] >= 50
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
