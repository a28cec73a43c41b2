"""Stage prepare@<corpus>: one corpus's manifest and rejects report under data.manifests_dir, and its summary."""

import json
import sys

from sa2sr_core.corpora.prepare import prepare_corpus
from sa2sr_core.errors import run_main
from sa2sr_core.io import write_json
from sa2sr_core.params import check_corpus, corpus_root, load_params, manifest_path, rejects_path, summary_path


def main(corpus: str) -> None:
    params = load_params()
    root, is_demo = corpus_root(params, check_corpus(corpus))
    summary = prepare_corpus(corpus, root, is_demo, manifest_path(params, corpus), rejects_path(params, corpus),
                             (params.get("readers") or {}).get(corpus), params["data"].get("max_utterances_per_split"))
    write_json(summary_path(params, "prepare", corpus), summary)
    print(json.dumps({corpus: summary}, indent=1))


if __name__ == "__main__":
    run_main(main, sys.argv[1])
