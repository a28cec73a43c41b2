"""Pre-training throughput: length-sorted batching vs the padded baseline, side by side in one run.

Both train the same SA2SR model (paper size unless overridden) on the same feature shards with the same
padded-frame budget per batch, through the training loop's own update (`training.train_step`: forward,
eq. 1, backward, clipping, Adam): the baseline fills batches in random order (padding to the longest
utterance), sa2sr sorts by length inside each shard first. Reported: real (unpadded) input frames per
second, reading and collation included, and the padding fraction, over the same number of updates.

Usage: python benchmarks/pretrain.py [--split data/features/librispeech/train] [--steps 40]
       python benchmarks/pretrain.py --synthetic-hours 0.02 --steps 2 --max-frames 2000   # smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import tempfile
from pathlib import Path

import pandas as pd
import torch

from fixtures import write_synthetic_shards
from sa2sr_core.config.training import pretrain_configs
from sa2sr_core.models.sa2sr import SA2SR
from sa2sr_core.params import load_params
from sa2sr_core.training.loop import timed_steps
from sa2sr_core.training.pretrain import make_dataset, sa2sr_loss, scan_split


def run(ds, model_cfg, cfg, steps: int) -> dict:
    torch.manual_seed(0)
    model = SA2SR(model_cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    r = timed_steps(model, opt, sa2sr_loss(cfg.lambda_), itertools.islice(ds.epoch(0, 0), steps + 2),
                    cfg.grad_clip, warmup=2)
    return {"frames_per_s": round(r["frames_per_s"], 1), "padding_fraction": round(r["padding_fraction"], 4),
            "steps": r["steps"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="data/features/librispeech/train")
    ap.add_argument("--labels", default="data/labels/librispeech.parquet")
    ap.add_argument("--synthetic-hours", type=float, default=None,
                    help="random LibriSpeech-like shards instead of --split (also used when --split is missing)")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--max-frames", type=int, help="padded frames per batch (default: params)")
    args = ap.parse_args()
    cfg, model_cfg = pretrain_configs(load_params())
    cfg = dataclasses.replace(cfg, max_frames_per_batch=args.max_frames or cfg.max_frames_per_batch)
    with tempfile.TemporaryDirectory() as tmp:
        split, hours = Path(args.split), args.synthetic_hours
        if hours is None and not split.is_dir():
            hours = 0.1
        if hours is not None:
            split = Path(tmp) / "train"
            labels = write_synthetic_shards(split, hours)
        else:
            labels = pd.read_parquet(args.labels)
        data = scan_split(split, labels)
        report = {"split": "synthetic" if hours is not None else str(split), "threads": torch.get_num_threads(),
                  "max_frames_per_batch": cfg.max_frames_per_batch,
                  "padded_baseline": run(make_dataset(split, data, cfg, sort=False), model_cfg, cfg, args.steps),
                  "sa2sr_sorted": run(make_dataset(split, data, cfg, sort=True), model_cfg, cfg, args.steps)}
    report["speedup"] = round(report["sa2sr_sorted"]["frames_per_s"] / report["padded_baseline"]["frames_per_s"], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
