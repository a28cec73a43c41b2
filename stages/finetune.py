"""Stage finetune: emotion regressor on the pre-trained (or scratch) encoder, CCC loss (paper §3.3, Table 4)."""

from dataclasses import asdict

from sa2sr_core.errors import run_main
from sa2sr_core.finetune import train_emotion
from sa2sr_core.io import write_json
from sa2sr_core.names import DIMS
from sa2sr_core.params import baseline_config, fbank_config, finetune_configs, load_params, split_dir
from sa2sr_core.tracking import write_history


def main() -> None:
    params = load_params()
    p = params["finetune"]
    cfg, model_cfg = finetune_configs(params)
    extra = {"features": asdict(fbank_config(params)), "normalization": {"type": params["features"]["normalize"]},
             "labels": {"dimensions": list(DIMS), "scale": [cfg.scale_min, cfg.scale_max],
                        "training_normalisation": "none: trained and reported on the corpus scale"},
             "finetune": asdict(cfg), "pretrained_from": params["pretrain"]["model_dir"] if cfg.init == "pretrained"
             else None}
    res = train_emotion(cfg, model_cfg, split_dir(params, p["corpus"], "train"),
                        split_dir(params, p["corpus"], "validation"), p["model_dir"],
                        params["pretrain"]["model_dir"], extra, baseline_cfg=baseline_config(params))
    sel = res["selected"]
    metrics = {**{k: sel[k] for k in sel if k.startswith("val_")}, "encoder": res["encoder"], "init": cfg.init,
               "freeze_encoder": cfg.freeze_encoder, "epoch": sel["epoch"], "epochs_run": res["epochs_run"],
               "stopped_by": res["stopped_by"]}
    write_json(p["metrics"], metrics)  # the DVC metric
    write_json(p["summary"], {**metrics, "skipped": res["skipped"]})
    write_history(p["live_dir"], res["history"])


if __name__ == "__main__":
    run_main(main)
