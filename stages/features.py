"""Stage features: 40-dim LFBE (25 ms / 10 ms) Parquet shards under data.features_dir/<corpus>/<split>/."""

import json

from sa2sr_core.extract import extract_all
from sa2sr_core.io import write_json
from sa2sr_core.params import load_params


def main() -> None:
    params = load_params()
    summary = extract_all(params)
    write_json(params["data"]["features_summary"], summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
