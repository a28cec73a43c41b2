"""Stage finetune: emotion regressor on the pre-trained (or scratch) encoder, CCC loss (paper §3.3, Table 4)."""

from sa2sr_core.config.baseline import baseline_config
from sa2sr_core.config.features import feature_config
from sa2sr_core.config.training import finetune_configs
from sa2sr_core.errors import run_main
from sa2sr_core.io import write_json
from sa2sr_core.params import OWN, finetune_corpus, load_params, split_dir
from sa2sr_core.training.finetune import train_emotion
from sa2sr_core.training.tracking import write_history


def main() -> None:
    params = load_params()
    p = params["finetune"]
    cfg, model_cfg = finetune_configs(params)
    corpus = finetune_corpus(params)
    res = train_emotion(cfg, model_cfg, split_dir(params, corpus, "train"), split_dir(params, corpus, "validation"),
                        p["model_dir"],
                        params["pretrain"]["model_dir"], feature_config(params), baseline_cfg=baseline_config(params),
                        own_corpus=corpus == OWN)
    sel = res["selected"]
    metrics = {**{k: sel[k] for k in sel if k.startswith("val_")}, "encoder": res["encoder"], "task": res["task"],
               "init": cfg.init,
               "freeze_encoder": cfg.freeze_encoder, "epoch": sel["epoch"], "epochs_run": res["epochs_run"],
               "stopped_by": res["stopped_by"]}
    write_json(p["metrics"], metrics)  # the DVC metric
    write_json(p["summary"], {**metrics, "skipped": res["skipped"]})
    write_history(p["live_dir"], res["history"])


if __name__ == "__main__":
    run_main(main)
