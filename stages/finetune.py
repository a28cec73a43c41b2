"""Stage finetune: emotion regressor on the pre-trained (or scratch) encoder, CCC loss (paper §3.3, Table 4);
one model per fold of a cross-validated corpus (IEMOCAP: models/finetune/fold-<k>/)."""

from sa2sr_core import numerics  # noqa: I001  first: the CPU's numerics are pinned before torch and numpy load

numerics.pin_cpu_numerics()  # the same bits on any AVX2 CPU (sa2sr_core/numerics.py)

from sa2sr_core.config.baseline import baseline_config  # noqa: E402
from sa2sr_core.config.features import feature_config  # noqa: E402
from sa2sr_core.config.training import finetune_configs  # noqa: E402
from sa2sr_core.corpora.finetuning import finetune_corpus, fold_path  # noqa: E402
from sa2sr_core.errors import run_main  # noqa: E402
from sa2sr_core.io import write_json  # noqa: E402
from sa2sr_core.params import load_params, timing_path  # noqa: E402
from sa2sr_core.training.finetune import fold_metrics, remove_other_layout, train_emotion  # noqa: E402
from sa2sr_core.training.text_inputs import copy_word_lm, text_route  # noqa: E402
from sa2sr_core.training.tracking import write_history  # noqa: E402


def main() -> None:
    numerics.pin_threads()
    params = load_params()
    p = params["finetune"]
    corpus = finetune_corpus(params)
    cfg, model_cfg = finetune_configs(params)
    cfg = corpus.training_config(cfg)
    remove_other_layout(p["model_dir"], corpus.folds)
    text, text_info = text_route(params)  # (None, {}) for finetune.text.source none: sound only
    results = {}
    for fold in corpus.folds:
        if fold.name:
            print(f"== {fold.name}: train {'+'.join(fold.train)}, Development {'+'.join(fold.validation)}, "
                  f"test {'+'.join(fold.tests)}", flush=True)
        results[fold] = train_emotion(cfg, model_cfg, corpus.dirs(fold.train), corpus.dirs(fold.validation),
                                      fold_path(p["model_dir"], fold), params["pretrain"]["model_dir"],
                                      feature_config(params), baseline_cfg=baseline_config(params),
                                      auto_task=corpus.auto_task, text=text, text_info=text_info)
        copy_word_lm(params, fold_path(p["model_dir"], fold))  # the asr source's lexicon decoder, for inference
    metrics, summary = fold_metrics(cfg, results)
    write_json(p["metrics"], metrics)  # the DVC metric
    write_json(p["summary"], summary)
    write_history(p["live_dir"], {f.name: r["history"] for f, r in results.items()})
    write_json(timing_path(params, "finetune"), {f.name or "all": r["timing"] for f, r in results.items()})


if __name__ == "__main__":
    run_main(main)
