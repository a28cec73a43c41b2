"""Run under torchrun by test_pretrain (2 processes, gloo, CPU) and test_gpu (nccl, CUDA): tiny SA2SR training.
Arguments: train valid labels out [backend (gloo)] [device (cpu)] [encoder (bilstm) | ssl: random-tiny with
LayerDrop and a frozen first update, on waveform shards]."""

import json
import sys
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist

from sa2sr_core.config.models import EncoderConfig, SA2SRConfig, SSLConfig
from sa2sr_core.config.training import PretrainConfig
from sa2sr_core.training.pretrain import train_sa2sr

if __name__ == "__main__":
    train, valid, labels, out = sys.argv[1:5]
    backend, device, encoder = (sys.argv[5:8] + ["gloo", "cpu", "bilstm"][len(sys.argv[5:8]):])
    dist.init_process_group(backend)
    torch.set_num_threads(1)
    enc = EncoderConfig(hidden=16, layers=1) if encoder == "bilstm" else EncoderConfig(
        kind="ssl", input_dim=160, ssl=SSLConfig(layerdrop=0.5, freeze_backbone_updates=1))
    cfg = SA2SRConfig(encoder=enc, summarizer_hidden=8)
    res = train_sa2sr(PretrainConfig(lr=3e-3, max_epochs=2, max_frames_per_batch=1500, device=device), cfg, train,
                      valid, pd.read_parquet(labels), out, log=lambda *_: None)
    # each rank's own live parameters after training: DDP must have kept the replicas identical
    total = sum(float(p.double().sum()) for p in res["model"].parameters())
    (Path(out) / f"rank{dist.get_rank()}.json").write_text(json.dumps({
        "param_sum": round(total, 6), "world": dist.get_world_size(), "epochs": res["epochs_run"]}))
    dist.destroy_process_group()
