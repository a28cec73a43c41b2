"""SSL encoder vs the paper's BiLSTM on this machine, side by side in one run (the BiLSTM is the baseline of every ratio).

1. Training-step throughput, seconds of audio per second: `training.train_step` with eq. 1 (CTC + lambda x sentiment
   CE) on the same random LibriSpeech-like utterance lengths under the same padded-frame budget, for the paper's
   5 x BiLSTM(192) on LFBE and a base-size SSL encoder (random-base: WavLM Base's architecture, 12 x 768, 94 M
   parameters, randomly initialised: it costs what the real weights cost).
2. `sa2sr predict` x real time for both (random weights of the real size; the same audio, the same code path:
   decoding, segmentation, features, the model).
3. The SSL training step's FLOPs per second of audio (torch's FLOP counter) and the projection of one epoch of the
   SSL profile's LibriSpeech train-clean-100 (x 3 with speed perturbation) on one H100 (sa2sr_core.study.estimate's
   assumptions: 989 TFLOP/s bf16 peak at 10 % utilisation). A projection, not a measurement.

Usage: python benchmarks/ssl_encoder.py [--frames 3000] [--seconds 60] [--files 40] [--device cpu] [--amp]
       python benchmarks/ssl_encoder.py --smoke        # tiny models, a few seconds
       python benchmarks/ssl_encoder.py --device cuda --frames 20000 --amp   # the profile's batch on a GPU
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import soundfile as sf
import torch

from fixtures import DEMO_MSP_AUDIO, paper_size_predictor, speech_utterances
from sa2sr_core.config.inference import PredictConfig
from sa2sr_core.config.models import RANDOM_BASE, RANDOM_TINY, EncoderConfig, SA2SRConfig, SSLConfig
from sa2sr_core.inference.predict import predict_recordings
from sa2sr_core.models.backbones import resolve_sa2sr
from sa2sr_core.study.estimate import (
    ASSUMED_MFU,
    H100_BF16_PEAK_FLOPS,
    LIBRISPEECH_TRAIN_HOURS,
    h100_hours,
    training_flops_per_audio_s,
)
from sa2sr_core.study.throughput import step_throughput, synthetic_batches


def encoders(smoke: bool) -> dict[str, EncoderConfig]:
    bilstm = EncoderConfig(hidden=16, layers=1) if smoke else EncoderConfig()
    ssl = EncoderConfig(kind="ssl", input_dim=160, ssl=SSLConfig(model=RANDOM_TINY if smoke else RANDOM_BASE))
    return {"bilstm": bilstm, "ssl": resolve_sa2sr(SA2SRConfig(encoder=ssl)).encoder}


def train_throughput(enc: EncoderConfig, frames: int, n: int, seconds: float, device: str, amp: bool) -> dict:
    cfg = SA2SRConfig(encoder=enc)
    batches = synthetic_batches(cfg, frames, 64, n=n, seed=0)
    r = step_throughput(cfg, batches, device, lam=10.0, amp=amp, warmup=1, max_seconds=seconds)
    return {"audio_s_per_s": round(r["frames_per_s"] / 100, 2), "steps_timed": r["steps"],
            "padding_fraction": round(r["padding_fraction"], 3), "peak_gpu_memory_gib": r["peak_gpu_memory_gib"]}


def predict_speed(enc: EncoderConfig, root: Path, audio_s: float, n: int, device: str) -> dict:
    model, config = paper_size_predictor(enc)
    model, dev = model.to(device), torch.device(device)
    files = sorted(root.glob("*.wav"))
    predict_recordings(model, config, files[:1], PredictConfig(progress=False), dev, log=lambda *_: None).files  # warm-up
    t0 = time.perf_counter()
    df = predict_recordings(model, config, [root], PredictConfig(progress=False), dev, log=lambda *_: None).files
    dt = time.perf_counter() - t0
    assert (df["status"] == "ok").all() and len(df) == n, df["status"].value_counts()
    return {"seconds": round(dt, 2), "x_real_time": round(audio_s / dt, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000, help="padded frames per training batch (10 ms each)")
    ap.add_argument("--seconds", type=float, default=60.0, help="timed training seconds per encoder (at most)")
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--amp", action="store_true", help="bf16 autocast in training (CUDA)")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    if args.smoke:
        args.frames, args.seconds, args.batches, args.files = 600, 1.0, 3, 2
    encs = encoders(args.smoke)
    machine = (torch.cuda.get_device_name() if args.device.startswith("cuda")
               else f"CPU, {torch.get_num_threads()} torch threads")
    report = {"machine": machine, "device": args.device, "amp": args.amp, "frames_per_batch": args.frames,
              "encoders": {k: e.describe() for k, e in encs.items()},
              "parameters_m": {k: round(sum(p.numel() for p in paper_size_predictor(e)[0].sa2sr.encoder.parameters())
                                        / 1e6, 1) for k, e in encs.items()},
              "training": {k: train_throughput(e, args.frames, args.batches, args.seconds, args.device, args.amp)
                           for k, e in encs.items()}}
    report["training_ssl_over_bilstm"] = round(report["training"]["ssl"]["audio_s_per_s"]
                                               / report["training"]["bilstm"]["audio_s_per_s"], 3)
    utts, source = speech_utterances(DEMO_MSP_AUDIO, n=args.files, espeak_n=args.files)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i, x in enumerate(utts[: args.files]):
            sf.write(root / f"u{i:04d}.wav", x, 16000)
        audio_s = sum(len(x) for x in utts[: args.files]) / 16000
        report["predict_audio"] = {"files": min(args.files, len(utts)), "audio_s": round(audio_s, 1), "source": source}
        report["predict"] = {k: predict_speed(e, root, audio_s, min(args.files, len(utts)), args.device)
                             for k, e in encs.items()}
    report["predict_ssl_over_bilstm"] = round(report["predict"]["ssl"]["x_real_time"]
                                              / report["predict"]["bilstm"]["x_real_time"], 3)
    flops = training_flops_per_audio_s(SA2SRConfig(encoder=encs["ssl"]))
    report["ssl_h100_projection"] = {
        "training_gflops_per_audio_s": round(flops / 1e9, 2),
        "train_clean_100_x3_hours_per_epoch": round(h100_hours(flops, LIBRISPEECH_TRAIN_HOURS["train-clean-100"] * 3), 3),
        "assumptions": f"{H100_BF16_PEAK_FLOPS / 1e12:.0f} TFLOP/s bf16 peak x {ASSUMED_MFU:.0%} utilisation",
        "note": "a projection, not a measurement"}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
