"""Stage text_features: the text vector of every utterance of the fine-tuning corpus for the text route (params
`finetune.text`, docs/text.md): the corpus's own transcripts or the pre-trained model's CTC ones through the
pipeline's text model, once per corpus and source; an empty table for source none."""

import json
import logging

from sa2sr_core.config.labeler import labeler_config
from sa2sr_core.config.text import text_config, text_features_path, text_summary_path
from sa2sr_core.corpora.finetuning import finetune_corpus
from sa2sr_core.errors import run_main
from sa2sr_core.io import write_json, write_parquet
from sa2sr_core.params import load_params, timing_path
from sa2sr_core.training.text_inputs import make_text_features


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    params = load_params()
    table, summary = make_text_features(finetune_corpus(params), text_config(params), labeler_config(params),
                                        params["pretrain"]["model_dir"])
    seconds = summary.pop("seconds")  # a time: beside the outputs (timing_path), not in them
    write_parquet(text_features_path(params), table)
    write_json(text_summary_path(params), summary)
    write_json(timing_path(params, "text_features"), {"seconds": seconds})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    run_main(main)
