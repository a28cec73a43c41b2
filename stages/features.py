"""Stage features@<corpus>: 40-dim LFBE (25 ms / 10 ms) Parquet shards under data.features_dir/<corpus>/<split>/."""

import json
import sys

from sa2sr_core.errors import run_main
from sa2sr_core.features.extract import extract_corpus
from sa2sr_core.io import write_json
from sa2sr_core.params import load_params, summary_path


def main(corpus: str) -> None:
    params = load_params()
    summary = extract_corpus(params, corpus)
    write_json(summary_path(params, "features", corpus), summary)
    print(json.dumps({corpus: summary}, indent=1))


if __name__ == "__main__":
    run_main(main, sys.argv[1])
