"""Stage package: models/pretrain + models/finetune -> the self-contained model directory with its model card (a
cross-validation's: the first fold's model, its card with every fold's figures)."""

import json
from pathlib import Path

from sa2sr_core.corpora.finetuning import finetune_corpus, fold_path
from sa2sr_core.errors import run_main
from sa2sr_core.evaluation.card import model_card
from sa2sr_core.models.directory import trained_on_demo
from sa2sr_core.models.packaged import package_model
from sa2sr_core.params import load_params
from sa2sr_core.summaries import read_summaries


def main() -> None:
    params = load_params()
    card = {k: json.loads(Path(p).read_text()) for k, p in
            {"pretrain": params["pretrain"]["metrics"], "finetune": params["finetune"]["metrics"],
             "eval": params["evaluate"]["metrics"]}.items()}
    corpus = finetune_corpus(params)
    fold = corpus.packaged_fold
    if fold is not None:  # the packaged model is this fold's: its own Development figures
        card["fold"] = {"name": fold.name, **card["finetune"]["folds"][fold.name]}
        card["finetune"] = {**card["finetune"], **card["fold"]}
    # the corpora this model was trained on (pre-training and fine-tuning: a change elsewhere does not touch it)
    card["data"] = read_summaries(params, "prepare", sorted({params["pretrain"]["corpus"], corpus.data}))
    cfg = package_model(params["pretrain"]["model_dir"], fold_path(params["finetune"]["model_dir"], fold),
                        params["package"]["model_dir"], trained_on_demo(card), lambda config: model_card(config, card),
                        card["eval"].get("data"))
    print(f"wrote {params['package']['model_dir']} (encoder shared with the SA2SR heads: {cfg.share_encoder})"
          + (f"; the model of {fold.name} (test {'+'.join(fold.tests)})" if fold else ""))


if __name__ == "__main__":
    run_main(main)
