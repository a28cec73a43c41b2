"""Stage package: models/pretrain + models/finetune -> the self-contained model directory with its model card."""

import json
from pathlib import Path

from sa2sr_core.errors import run_main
from sa2sr_core.evaluation.card import model_card
from sa2sr_core.models.directory import trained_on_demo
from sa2sr_core.models.packaged import package_model
from sa2sr_core.params import finetune_corpus, load_params, read_summaries


def main() -> None:
    params = load_params()
    card = {k: json.loads(Path(p).read_text()) for k, p in
            {"pretrain": params["pretrain"]["metrics"], "finetune": params["finetune"]["metrics"],
             "eval": params["evaluate"]["metrics"]}.items()}
    # the corpora this model was trained on (not IEMOCAP: a change there does not touch the model)
    card["data"] = read_summaries(params, "prepare", sorted({params["pretrain"]["corpus"], finetune_corpus(params)}))
    cfg = package_model(params["pretrain"]["model_dir"], params["finetune"]["model_dir"],
                        params["package"]["model_dir"], trained_on_demo(card), lambda config: model_card(config, card))
    print(f"wrote {params['package']['model_dir']} (encoder shared with the SA2SR heads: {cfg.share_encoder})")


if __name__ == "__main__":
    run_main(main)
