"""Pre-training throughput: length-sorted batching vs the padded baseline, side by side in one run.

Both train the same SA2SR model (paper size unless overridden) on the same feature shards with the same
padded-frame budget per batch: the baseline fills batches in random order (padding to the longest
utterance), sa2sr sorts by length inside each shard first. Reported: real (unpadded) input frames per
second and the padding fraction, over the same number of optimiser steps.

Usage: python benchmarks/pretrain.py [--split data/features/librispeech/train] [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import time

import pandas as pd
import torch

from sa2sr_core.models.sa2sr import SA2SR
from sa2sr_core.params import load_params, pretrain_configs
from sa2sr_core.pretrain import make_dataset, scan_split


def run(ds, model_cfg, steps: int, lam: float) -> dict:
    torch.manual_seed(0)
    model = SA2SR(model_cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    frames = padded = n = 0
    t0 = None
    for batch in ds.epoch(0, 0):
        if n == 2 and t0 is None:  # two warm-up steps
            t0, frames, padded = time.perf_counter(), 0, 0
        _, losses = model(batch.feats, batch.lengths, batch.targets, batch.target_lengths, batch.sentiment)
        loss = losses["ctc"] + lam * losses["sentiment"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        frames += int(batch.lengths.sum())
        padded += batch.feats.shape[0] * batch.feats.shape[1]
        n += 1
        if n >= steps + 2:
            break
    dt = time.perf_counter() - t0
    return {"frames_per_s": round(frames / dt, 1), "padding_fraction": round(1 - frames / padded, 4), "steps": n - 2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="data/features/librispeech/train")
    ap.add_argument("--labels", default="data/labels/librispeech.parquet")
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    params = load_params()
    cfg, model_cfg = pretrain_configs(params)
    data = scan_split(args.split, pd.read_parquet(args.labels))
    report = {"threads": torch.get_num_threads(), "max_frames_per_batch": cfg.max_frames_per_batch,
              "padded_baseline": run(make_dataset(args.split, data, cfg, sort=False), model_cfg, args.steps, cfg.lambda_),
              "sa2sr_sorted": run(make_dataset(args.split, data, cfg, sort=True), model_cfg, args.steps, cfg.lambda_)}
    report["speedup"] = round(report["sa2sr_sorted"]["frames_per_s"] / report["padded_baseline"]["frames_per_s"], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
