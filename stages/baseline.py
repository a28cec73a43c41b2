"""Stage baseline: the classical baselines on utterance functionals of unnormalised LFBE, regulariser chosen on
Development: ridge regression per dimension (A/V/D), logistic regression (emotion classes); predictions on the
test splits for `evaluate` to score beside the deep model."""

import json

import pandas as pd

from sa2sr_core.config.baseline import baseline_config
from sa2sr_core.config.training import finetune_configs
from sa2sr_core.errors import run_main
from sa2sr_core.evaluation.baseline import (class_data, class_predictions_frame, fit_baseline, fit_logistic,
                                            predictions_frame, split_data, summary)
from sa2sr_core.features.emotion import scan_emotion_split, task_and_classes
from sa2sr_core.io import write_json, write_parquet
from sa2sr_core.models.backbones import resolve_emotion
from sa2sr_core.params import OWN, evaluation_splits, finetune_corpus, load_params, split_dir


def main() -> None:
    params = load_params()
    b, corpus = params["baseline"], finetune_corpus(params)
    cfg = baseline_config(params)
    ft_cfg, model_cfg = finetune_configs(params)
    min_frames = resolve_emotion(model_cfg).min_frames()  # the utterances the model can take, for the same test set
    train_dir = split_dir(params, corpus, "train")
    task, classes = task_and_classes(ft_cfg.task, corpus == OWN, train_dir)
    splits = {s: split_dir(params, corpus, s) for s in ("train", "validation", *evaluation_splits(params))
              if split_dir(params, corpus, s).is_dir()}
    scans = {s: scan_emotion_split(d, ft_cfg, min_frames, task, classes) for s, d in splits.items()}
    tests = [s for s in splits if s not in ("train", "validation")]
    frames, out = [], {"task": task}
    if task in ("dimensions", "both"):
        data = {s: split_data(splits[s], scans[s]) for s in splits}
        model = fit_baseline(data["train"], data["validation"], cfg)
        frames += [predictions_frame(s, data[s], model.predict(data[s].x)) for s in tests]
        out.update(summary(model, data["train"], {s: data[s] for s in tests}))
    if classes:
        data = {s: class_data(splits[s], scans[s]) for s in splits}
        model = fit_logistic(data["train"], data["validation"], cfg, classes, ft_cfg.class_balanced)
        frames += [class_predictions_frame(s, data[s], model) for s in tests]
        out["categories"] = {"model": "multinomial logistic regression on the same functionals", "classes": list(classes),
                             "lambda": model.lam, "validation_ua": model.dev_ua,
                             "train_utterances": len(data["train"].ids)}
    write_parquet(b["predictions"], pd.concat(frames, ignore_index=True))
    write_json(b["metrics"], out)
    print(json.dumps({k: out[k] for k in ("alpha", "validation_ccc", "categories") if k in out}, indent=1))


if __name__ == "__main__":
    run_main(main)
