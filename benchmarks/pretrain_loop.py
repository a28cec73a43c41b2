"""Pre-training at scale: the real training loop against the model step alone, side by side in one run.

On the same shards and the same length-sorted batches under the same frame budget:

- loop: `train_sa2sr` for one epoch (shard reading, pooling, batching, collation in a background thread,
  pinned host memory, non-blocking copies, the model step), i.e. what `dvc repro pretrain` does;
- step only: forward, backward, clipping and Adam on batches already on the device (the ceiling the loop can
  reach), with the encoder as `pretrain` runs it on that device (fused cuDNN on CUDA, reversal on CPU);
- reference: the same step with the other encoder path (reversal on CUDA, fused on CPU), for comparison.

Reported for each: real (unpadded) input frames per second, padding fraction, peak GPU memory, and the
projected minutes for one 960 h x 3 epoch (LibriSpeech 960 h with speed perturbation 0.9/1.1: 1.04 billion
10-ms frames). Without corpora it writes synthetic shards in the project's schema (LibriSpeech-like lengths
2-17 s, random LFBE and transcripts) to a temporary directory.

Usage:
    python benchmarks/pretrain_loop.py --device cuda --synthetic-hours 6 --max-frames 400000 --max-batch 512
    python benchmarks/pretrain_loop.py --device cpu --synthetic-hours 0.05 --max-frames 3000   # smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import pandas as pd
import torch

from fixtures import write_synthetic_shards
from sa2sr_core.config.training import pretrain_configs
from sa2sr_core.device import pick_device
from sa2sr_core.params import load_params
from sa2sr_core.study.throughput import step_throughput
from sa2sr_core.training.pretrain import make_dataset, scan_split, train_sa2sr

FRAMES_960H_X3 = 1.04e9


def step_only(ds, model_cfg, device, steps: int, lam: float, fused: str, amp: bool) -> dict:
    """Forward, backward, clip, Adam on batches moved to the device beforehand."""
    batches = []
    for b in ds.epoch(0, 0):
        batches.append(b)
        if len(batches) >= steps + 2:
            break
    r = step_throughput(model_cfg, batches, device, lam, amp, fused, warmup=2)
    return _report(r["frames_per_s"], r["padding_fraction"], r["steps"], device)


def _report(fps: float, padding: float, steps: int, device) -> dict:
    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return {"frames_per_s": round(fps), "padding_fraction": round(padding, 4), "steps": steps,
            "peak_gpu_memory_gib": None if mem is None else round(mem, 1),
            "minutes_per_960h_x3_epoch": round(FRAMES_960H_X3 / fps / 60, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--split", help="feature shards of a pre-training split (default: synthetic)")
    ap.add_argument("--labels", default="data/labels/librispeech.parquet")
    ap.add_argument("--synthetic-hours", type=float, default=6.0)
    ap.add_argument("--max-frames", type=int, help="padded frames per batch (default: params)")
    ap.add_argument("--max-batch", type=int)
    ap.add_argument("--shard-pool", type=int, default=4)
    ap.add_argument("--steps", type=int, default=40, help="batches timed in the step-only runs")
    ap.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA")
    ap.add_argument("--dtype", default="float32", help="synthetic shards' LFBE storage: float32 | float16")
    args = ap.parse_args()
    device = pick_device(args.device)
    cfg, model_cfg = pretrain_configs(load_params())
    cfg = dataclasses.replace(cfg, max_epochs=1, device=str(device), amp=args.amp, shard_pool=args.shard_pool,
                              schedule="constant", warmup_steps=0, short_first_epochs=0,
                              max_frames_per_batch=args.max_frames or cfg.max_frames_per_batch,
                              max_batch=args.max_batch or cfg.max_batch)
    with tempfile.TemporaryDirectory() as tmp:
        valid = Path(tmp) / "valid"  # a small validation split: the benchmark times training, not validation
        if args.split:
            split, labels = Path(args.split), pd.read_parquet(args.labels)
            valid = split
        else:
            split = Path(tmp) / "train"
            labels = pd.concat([write_synthetic_shards(split, args.synthetic_hours, dtype=args.dtype),
                                write_synthetic_shards(valid, 0.02, dtype=args.dtype, seed=1)])
        data = scan_split(split, labels)
        ds = make_dataset(split, data, cfg)
        res = train_sa2sr(cfg, model_cfg, split, valid, labels, Path(tmp) / "model", log=lambda *_: None)
        row = res["history"][0]
        loop = _report(res["timing"][0]["frames_per_s"], row["padding_fraction"], int(row["updates"]), device)
        fast = "auto" if device.type == "cuda" else "never"
        other = "never" if device.type == "cuda" else "always"
        report = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                  "torch": torch.__version__, "amp_bf16": args.amp, "max_frames_per_batch": cfg.max_frames_per_batch,
                  "max_batch": cfg.max_batch, "utterances": len(data.tokens), "frames": data.frames,
                  "loop": loop,
                  "step_only": step_only(ds, model_cfg, device, args.steps, cfg.lambda_, fast, args.amp),
                  "reference_other_encoder_path": step_only(ds, model_cfg, device, args.steps, cfg.lambda_, other,
                                                            args.amp)}
    report["loop_vs_step_only"] = round(report["loop"]["frames_per_s"] / report["step_only"]["frames_per_s"], 3)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
