"""Stage features@<corpus>: 40-dim LFBE (25 ms / 10 ms) Parquet shards under data.features_dir/<corpus>/<split>/."""

import json
import sys
from pathlib import Path

from sa2sr_core.config.features import feature_config
from sa2sr_core.errors import run_main
from sa2sr_core.features.extract import extract_corpus
from sa2sr_core.io import write_json
from sa2sr_core.params import OWN, check_corpus, load_params, manifest_path, summary_path


def main(corpus: str) -> None:
    params = load_params()
    if corpus != OWN:
        check_corpus(corpus)
    data, f = params["data"], params["features"]
    summary = extract_corpus(manifest_path(params, corpus), Path(data["features_dir"]) / corpus, feature_config(params),
                             perturb_train=corpus == data.get("speed_perturb_corpus"),
                             max_seconds=float(f.get("shard_max_seconds", 1800)), workers=int(f.get("workers", 1)))
    write_json(summary_path(params, "features", corpus), summary)
    print(json.dumps({corpus: summary}, indent=1))


if __name__ == "__main__":
    run_main(main, sys.argv[1])
