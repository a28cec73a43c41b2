"""Stage text_features: the text vector of every utterance of the fine-tuning corpus for the text route (params
`finetune.text`, docs/text.md): the corpus's own transcripts or the pre-trained model's CTC ones through the
pipeline's text model, once per corpus and source; an empty table for source none. The asr source's lexicon
decoder reads the word LM of the pre-training transcripts, written beside the features for the model to carry."""

from sa2sr_core import numerics  # noqa: I001  first: the CPU's numerics are pinned before torch and numpy load

numerics.pin_cpu_numerics()  # the asr source runs the recogniser: the same posteriors, so the same words, on any AVX2 CPU

import json  # noqa: E402
import logging  # noqa: E402

from sa2sr_core.config.labeler import labeler_config  # noqa: E402
from sa2sr_core.config.text import text_config, text_features_path, text_summary_path, word_lm_path  # noqa: E402
from sa2sr_core.corpora.finetuning import finetune_corpus  # noqa: E402
from sa2sr_core.errors import run_main  # noqa: E402
from sa2sr_core.io import write_json, write_parquet  # noqa: E402
from sa2sr_core.params import load_params, split_dir, timing_path  # noqa: E402
from sa2sr_core.training.text_inputs import make_text_features, word_lm  # noqa: E402


def main() -> None:
    numerics.pin_threads()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    params = load_params()
    cfg = text_config(params)
    lm = word_lm(split_dir(params, params["pretrain"]["corpus"], "train")) if cfg.lexicon else None
    table, summary = make_text_features(finetune_corpus(params), cfg, labeler_config(params),
                                        params["pretrain"]["model_dir"], lm=lm)
    if lm is not None:
        lm.save(word_lm_path(params))
    seconds = summary.pop("seconds")  # a time: beside the outputs (timing_path), not in them
    write_parquet(text_features_path(params), table)
    write_json(text_summary_path(params), summary)
    write_json(timing_path(params, "text_features"), {"seconds": seconds})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    run_main(main)
