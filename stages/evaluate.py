"""Stage evaluate: CCC per dimension with bootstrap 95% CIs on the test split(s), predictions, scatter plot."""

import json
from pathlib import Path

import pandas as pd

from sa2sr_core.config.training import finetune_config
from sa2sr_core.errors import run_main
from sa2sr_core.evaluation.evaluate import (compact_scores, evaluate_splits, model_task, plot_absent, plot_confusion,
                                            plot_scatter, score_predictions)
from sa2sr_core.io import write_json, write_parquet
from sa2sr_core.models.loaders import load_emotion_model
from sa2sr_core.params import OWN, corpus_root, evaluation_splits, finetune_corpus, load_params, split_dir


def main() -> None:
    params = load_params()
    p, e = params["finetune"], params["evaluate"]
    cfg = finetune_config(params)
    model = load_emotion_model(p["model_dir"])
    corpus, splits = finetune_corpus(params), evaluation_splits(params)
    dirs = {s: split_dir(params, corpus, s) for s in splits if split_dir(params, corpus, s).is_dir()}
    if not dirs:
        raise FileNotFoundError(f"none of the test splits {splits} has features under {split_dir(params, corpus, '')}")
    results, preds = evaluate_splits(model, dirs, cfg, n_boot=e["bootstrap"], seed=params["seed"])
    is_demo = corpus != OWN and corpus_root(params, corpus)[1]
    # the classical baseline (stage baseline) on the same test utterances, scored by the same code
    dims, classes = model_task(model)
    baseline = score_predictions(pd.read_parquet(params["baseline"]["predictions"]), e["bootstrap"], params["seed"],
                                 classes)
    for split, r in results.items():
        if r["n"] != baseline.get(split, {}).get("n"):
            raise ValueError(f"baseline predictions for {split} cover {baseline.get(split, {}).get('n')} utterances, "
                             f"the model's {r['n']}: re-run `dvc repro baseline`")
    out = {"data": "demo" if is_demo else p["corpus"], "init": cfg.init, "freeze_encoder": cfg.freeze_encoder,
           "lambda": params["lambda"], **results, "baseline": baseline}
    write_json(e["metrics"], out)
    write_json(e["scores"], compact_scores(out))  # the DVC metric: CCC per dimension, model and baseline
    write_parquet(e["predictions"], preds)
    first = next(iter(results))
    what = f"{Path(out['data']).name if corpus == OWN else out['data']}: init={cfg.init}, frozen={cfg.freeze_encoder}, lambda={params['lambda']}"
    if dims:
        plot_scatter(preds, e["scatter"], f"{what} — mean CCC {first} {results[first]['mean']['ccc']:.2f}")
    if classes:
        plot_confusion(results, e["confusion"], f"{what} — {len(classes)} classes")
    for path, has in ((e["scatter"], dims), (e["confusion"], bool(classes))):
        if not has:  # a declared output: say what the model has instead
            plot_absent(path, "this model has no A/V/D outputs (finetune.task: categories)" if classes else
                        "this model has no categorical head (finetune.task: dimensions)")
    print(json.dumps(compact_scores(out), indent=1))


if __name__ == "__main__":
    run_main(main)
