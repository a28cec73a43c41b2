"""Stage baseline: ridge regression on utterance functionals of unnormalised LFBE, regulariser chosen on
Development; predictions on the test splits for `evaluate` to score beside the deep model."""

import json

import pandas as pd

from sa2sr_core.config.baseline import baseline_config
from sa2sr_core.config.training import finetune_configs
from sa2sr_core.errors import run_main
from sa2sr_core.evaluation.baseline import fit_baseline, load_split, predictions_frame, summary
from sa2sr_core.io import write_json, write_parquet
from sa2sr_core.models.backbones import resolve_emotion
from sa2sr_core.params import evaluation_splits, finetune_corpus, load_params, split_dir


def main() -> None:
    params = load_params()
    b, corpus = params["baseline"], finetune_corpus(params)
    cfg = baseline_config(params)
    ft_cfg, model_cfg = finetune_configs(params)
    min_frames = resolve_emotion(model_cfg).min_frames()  # the utterances the model can take, for the same test set
    train, dev = (load_split(split_dir(params, corpus, s), ft_cfg, min_frames) for s in ("train", "validation"))
    model = fit_baseline(train, dev, cfg)
    test = {s: load_split(split_dir(params, corpus, s), ft_cfg, min_frames) for s in evaluation_splits(params)
            if split_dir(params, corpus, s).is_dir()}
    write_parquet(b["predictions"], pd.concat([predictions_frame(s, d, model.predict(d.x)) for s, d in test.items()],
                                              ignore_index=True))
    out = summary(model, train, test)
    write_json(b["metrics"], out)
    print(json.dumps({k: out[k] for k in ("alpha", "validation_ccc")}, indent=1))


if __name__ == "__main__":
    run_main(main)
