"""Stage pseudo_label@<corpus>: negative/neutral/positive labels + probabilities for every transcript of one
corpus (paper §3.1, §4), and its summary."""

import json
import logging
import sys

from sa2sr_core.config.labeler import labeler_config
from sa2sr_core.errors import run_main
from sa2sr_core.io import write_json
from sa2sr_core.params import check_corpus, labels_path, load_params, manifest_path, summary_path
from sa2sr_core.sentiment.labels import pseudo_label_corpus


def main(corpus: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    params = load_params()
    summary = pseudo_label_corpus(manifest_path(params, check_corpus(corpus)), labels_path(params, corpus),
                                  labeler_config(params))
    write_json(summary_path(params, "labels", corpus), summary)
    print(json.dumps({corpus: summary}, indent=1))


if __name__ == "__main__":
    run_main(main, sys.argv[1])
