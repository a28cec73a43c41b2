"""One update of a tiny SA2SR over the whole training split, for test_pretrain's two-node test. Under torchrun each
of the WORLD_SIZE processes takes 1/WORLD_SIZE of the utterances as its one batch and DDP averages their gradients;
alone, one process takes them all in one batch. The losses are means over utterances, and SpecAugment and dropout
are off, so the two are the same update up to float rounding. Arguments: train valid labels out utterances."""

import json
import os
import sys
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist

from sa2sr_core.config.models import EncoderConfig, SA2SRConfig
from sa2sr_core.config.training import PretrainConfig
from sa2sr_core.training.pretrain import train_sa2sr

if __name__ == "__main__":
    train, valid, labels, out, n = sys.argv[1:6]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    torch.set_num_threads(1)
    cfg = SA2SRConfig(encoder=EncoderConfig(hidden=16, layers=1, specaug_p=0.0), summarizer_hidden=8)
    res = train_sa2sr(PretrainConfig(lr=1e-3, max_epochs=1, max_frames_per_batch=10**8, max_batch=int(n) // world,
                                     device="cpu"), cfg, train, valid, pd.read_parquet(labels), out,
                      log=lambda *_: None)
    row = res["history"][0]
    rank = dist.get_rank() if world > 1 else 0
    (Path(out) / f"rank{rank}.json").write_text(json.dumps({
        "world": world, "updates": row["updates"], "val_loss_ctc": row["val_loss_ctc"],
        "val_loss_sentiment": row["val_loss_sentiment"],
        "params": torch.cat([p.detach().flatten() for p in res["model"].parameters()]).tolist()}))
