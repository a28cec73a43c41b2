"""Stage pretrain: SA2SR pre-training on the pre-training corpus's feature shards (paper §3.2, §4.2).

Single process: `python stages/pretrain.py`; data parallel: `torchrun --nproc_per_node N stages/pretrain.py`.
"""

from sa2sr_core import numerics  # noqa: I001  first: the CPU's numerics are pinned before torch and numpy load

numerics.pin_cpu_numerics()  # the same bits on any AVX2 CPU (sa2sr_core/numerics.py)

import pandas as pd  # noqa: E402

from sa2sr_core.config.features import feature_config  # noqa: E402
from sa2sr_core.config.training import pretrain_configs  # noqa: E402
from sa2sr_core.errors import run_main  # noqa: E402
from sa2sr_core.io import write_json  # noqa: E402
from sa2sr_core.params import labels_path, load_params, split_dir, timing_path  # noqa: E402
from sa2sr_core.training.loop import ddp_session  # noqa: E402
from sa2sr_core.training.pretrain import train_sa2sr  # noqa: E402
from sa2sr_core.training.tracking import write_history  # noqa: E402


def main() -> None:
    numerics.pin_threads()
    params = load_params()
    cfg, model_cfg = pretrain_configs(params)
    p, corpus = params["pretrain"], params["pretrain"]["corpus"]
    with ddp_session(p.get("ddp_backend", "gloo")) as rank:
        result = train_sa2sr(cfg, model_cfg, split_dir(params, corpus, "train"), split_dir(params, corpus, "validation"),
                             pd.read_parquet(labels_path(params, corpus)), p["model_dir"], feature_config(params))
    if rank == 0:
        sel = result["selected"]
        metrics = {"cer": sel["cer"], "auc": sel["auc"], "war": sel["war"], "M": sel["M"], "lambda": cfg.lambda_,
                   "epoch": sel["epoch"], "epochs_run": result["epochs_run"], "encoder": result["encoder"]}
        write_json(p["metrics"], metrics)  # the DVC metric: what `dvc exp show` leads with
        write_json(p["summary"], {
            **metrics, "selection": result["selection"], "padding_fraction": sel["padding_fraction"],
            "skipped": result["skipped"]})
        write_history(p["live_dir"], result["history"])
        write_json(timing_path(params, "pretrain"), {"epochs": result["timing"]})


if __name__ == "__main__":
    run_main(main)
