"""Stage evaluate: CCC per dimension with bootstrap 95% CIs on the test split(s), predictions, scatter plot; for a
cross-validated corpus (IEMOCAP), each fold's model on its test session, the folds' mean ± sd and the pooled figures."""

from sa2sr_core import numerics  # noqa: I001  first: the CPU's numerics are pinned before torch and numpy load

numerics.pin_cpu_numerics()  # the same bits on any AVX2 CPU (sa2sr_core/numerics.py)

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from sa2sr_core.config.training import finetune_config  # noqa: E402
from sa2sr_core.corpora.finetuning import finetune_corpus, fold_path  # noqa: E402
from sa2sr_core.errors import run_main  # noqa: E402
from sa2sr_core.evaluation.evaluate import (compact_scores, cross_validation, evaluate_splits, model_task, plot_absent,  # noqa: E402
                                            plot_confusion, plot_scatter, score_predictions)
from sa2sr_core.io import write_json, write_parquet  # noqa: E402
from sa2sr_core.models.loaders import load_emotion_model  # noqa: E402
from sa2sr_core.config.text import text_baseline_path, text_features_path  # noqa: E402
from sa2sr_core.features.text import read_text_features  # noqa: E402
from sa2sr_core.params import load_params  # noqa: E402


def main() -> None:
    numerics.pin_threads()
    params = load_params()
    p, e = params["finetune"], params["evaluate"]
    corpus = finetune_corpus(params)
    cfg, folds = corpus.training_config(finetune_config(params)), corpus.folds
    results, frames, tasks, text = {}, [], set(), None
    for fold in folds:
        model = load_emotion_model(fold_path(p["model_dir"], fold))
        if model.cfg.regressor.text_dim and text is None:  # the text route: the features it was trained with
            text = read_text_features(text_features_path(params))
        dirs = corpus.test_dirs(fold)
        if not dirs:
            raise FileNotFoundError(f"none of the test splits {list(fold.tests)} has features under "
                                    f"{Path(corpus.dirs(fold.tests[:1])).parent}")
        res, preds = evaluate_splits(model, dirs, cfg, n_boot=e["bootstrap"], seed=params["seed"], text=text)
        results.update(res)
        frames.append(preds)
        tasks.add(model_task(model))
    if len(tasks) != 1:
        raise ValueError(f"the folds' models differ in what they predict {sorted(tasks)}: a fold's Train lacks a class")
    (dims, classes), preds = tasks.pop(), pd.concat(frames, ignore_index=True)
    # the classical baseline (stage baseline) on the same test utterances, scored by the same code
    base_preds = pd.read_parquet(params["baseline"]["predictions"])
    baseline = score_predictions(base_preds, e["bootstrap"], params["seed"], classes)
    for split, r in results.items():
        if r["n"] != baseline.get(split, {}).get("n"):
            raise ValueError(f"baseline predictions for {split} cover {baseline.get(split, {}).get('n')} utterances, "
                             f"the model's {r['n']}: re-run `dvc repro baseline`")
    data = corpus.name
    out = {"data": data, "init": cfg.init, "freeze_encoder": cfg.freeze_encoder, "lambda": params["lambda"],
           **({"text": text.source} if text is not None else {}), "splits": results, "baseline": {"splits": baseline}}
    text_base = text_baseline_path(params)
    if text is not None and text_base.is_file():  # the text-only baseline (stage baseline), the same utterances
        text_preds = pd.read_parquet(text_base)
        out["text_baseline"] = {"splits": score_predictions(text_preds, e["bootstrap"], params["seed"], classes)}
    if corpus.cross_validated:
        out["cross_validation"] = cross_validation(folds, results, preds, e["bootstrap"], params["seed"], classes)
        out["baseline"]["cross_validation"] = cross_validation(folds, baseline, base_preds, e["bootstrap"],
                                                               params["seed"], classes)
        if "text_baseline" in out:
            out["text_baseline"]["cross_validation"] = cross_validation(folds, out["text_baseline"]["splits"],
                                                                        text_preds, e["bootstrap"], params["seed"],
                                                                        classes)
    write_json(e["metrics"], out)
    write_json(e["scores"], compact_scores(out))  # the DVC metric: CCC per dimension, model and baseline
    write_parquet(e["predictions"], preds)
    first = next(iter(results))
    what = f"{Path(data).name}: init={cfg.init}, frozen={cfg.freeze_encoder}, lambda={params['lambda']}"
    if dims:
        plot_scatter(preds, e["scatter"], f"{what} — mean CCC {first} {results[first]['mean']['ccc']:.2f}")
    if classes:  # a cross-validation's: the pooled matrix of all folds
        shown = {"pooled (all folds)": out["cross_validation"]["pooled"]} if "cross_validation" in out else results
        plot_confusion(shown, e["confusion"], f"{what} — {len(classes)} classes")
    for path, has in ((e["scatter"], dims), (e["confusion"], bool(classes))):
        if not has:  # a declared output: say what the model has instead
            plot_absent(path, "this model has no A/V/D outputs (finetune.task: categories)" if classes else
                        "this model has no categorical head (finetune.task: dimensions)")
    print(json.dumps(compact_scores(out), indent=1))


if __name__ == "__main__":
    run_main(main)
