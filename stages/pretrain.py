"""Stage pretrain: SA2SR pre-training on the pre-training corpus's feature shards (paper §3.2, §4.2).

Single process: `python stages/pretrain.py`; data parallel: `torchrun --nproc_per_node N stages/pretrain.py`.
"""

import os
from dataclasses import asdict

import pandas as pd
import torch.distributed as dist

from sa2sr_core.errors import run_main
from sa2sr_core.io import write_json
from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.params import fbank_config, labels_path, load_params, pretrain_configs, split_dir
from sa2sr_core.pretrain import train_sa2sr
from sa2sr_core.tracking import write_history


def main() -> None:
    params = load_params()
    cfg, model_cfg = pretrain_configs(params)
    corpus = params["pretrain"]["corpus"]
    out_dir = params["pretrain"]["model_dir"]
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group(backend=params["pretrain"].get("ddp_backend", "gloo"))
    rank = dist.get_rank() if dist.is_initialized() else 0
    extra = {"features": asdict(fbank_config(params)), "normalization": {"type": params["features"]["normalize"]},
             "sentiment_classes": list(SENTIMENT_CLASSES), "pretrain": asdict(cfg)}
    result = train_sa2sr(cfg, model_cfg, split_dir(params, corpus, "train"), split_dir(params, corpus, "validation"),
                         pd.read_parquet(labels_path(params, corpus)), out_dir, extra)
    if rank == 0:
        sel = result["selected"]
        metrics = {"cer": sel["cer"], "auc": sel["auc"], "war": sel["war"], "M": sel["M"], "lambda": cfg.lambda_,
                   "epoch": sel["epoch"], "epochs_run": result["epochs_run"], "encoder": result["encoder"]}
        write_json(params["pretrain"]["metrics"], metrics)  # the DVC metric: what `dvc exp show` leads with
        write_json(params["pretrain"]["summary"], {
            **metrics, "selection": result["selection"], "padding_fraction": sel["padding_fraction"],
            "frames_per_s": sel["frames_per_s"], "skipped": result["skipped"]})
        write_history(params["pretrain"]["live_dir"], result["history"])
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    run_main(main)
