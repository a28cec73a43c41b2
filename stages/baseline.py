"""Stage baseline: the classical baselines on utterance functionals of unnormalised LFBE, regulariser chosen on
Development: ridge regression per dimension (A/V/D), logistic regression (emotion classes); predictions on the
test splits for `evaluate` to score beside the deep model (per fold of a cross-validated corpus)."""

from sa2sr_core import numerics  # noqa: I001  first: the CPU's numerics are pinned before torch and numpy load

numerics.pin_cpu_numerics()  # the same bits on any AVX2 CPU (sa2sr_core/numerics.py)

import json  # noqa: E402

import pandas as pd  # noqa: E402

from sa2sr_core.config.baseline import baseline_config  # noqa: E402
from sa2sr_core.config.training import finetune_configs  # noqa: E402
from sa2sr_core.corpora.finetuning import finetune_corpus  # noqa: E402
from sa2sr_core.errors import run_main  # noqa: E402
from sa2sr_core.evaluation.baseline import fit_fold  # noqa: E402
from sa2sr_core.io import write_json, write_parquet  # noqa: E402
from sa2sr_core.models.backbones import resolve_emotion  # noqa: E402
from sa2sr_core.config.text import text_baseline_path, text_config, text_features_path  # noqa: E402
from sa2sr_core.features.text import read_text_features  # noqa: E402
from sa2sr_core.params import load_params  # noqa: E402


def main() -> None:
    numerics.pin_threads()
    params = load_params()
    b, corpus = params["baseline"], finetune_corpus(params)
    cfg = baseline_config(params)
    ft_cfg, model_cfg = finetune_configs(params)
    ft_cfg = corpus.training_config(ft_cfg)
    min_frames = resolve_emotion(model_cfg).min_frames()  # the utterances the model can take, for the same test set
    text = read_text_features(text_features_path(params)) if text_config(params).enabled else None
    frames, out, text_frames, text_out = [], {}, [], {}
    for fold in corpus.folds:
        parts = {"train": corpus.dirs(fold.train), "validation": corpus.dirs(fold.validation),
                 **{t: corpus.dirs((t,)) for t in fold.tests}}
        fold_frames, fold_out, fold_text_frames, fold_text_out = fit_fold(parts, cfg, ft_cfg, min_frames, corpus, text)
        frames += fold_frames
        text_frames += fold_text_frames
        for whole, part in ((out, fold_out), (text_out, fold_text_out)):
            if fold.name is None:
                whole.update(part)
            elif part:
                whole.setdefault("task", part.pop("task"))
                whole.setdefault("folds", {})[fold.name] = part
    write_parquet(b["predictions"], pd.concat(frames, ignore_index=True))
    # the text-only baseline (the text route; empty for finetune.text.source none)
    write_parquet(text_baseline_path(params), pd.concat(text_frames, ignore_index=True) if text_frames else
                  pd.DataFrame({"utt_id": pd.Series(dtype=str), "split": pd.Series(dtype=str)}))
    if text_out:
        out["text_only"] = text_out
    write_json(b["metrics"], out)
    print(json.dumps({k: out[k] for k in ("alpha", "validation_ccc", "categories", "folds") if k in out}, indent=1))


if __name__ == "__main__":
    run_main(main)
