"""Stage prepare: one manifest and one rejects report per corpus under data.manifests_dir."""

import json

from sa2sr_core.io import write_json
from sa2sr_core.params import load_params
from sa2sr_core.prepare import prepare_all


def main() -> None:
    summary = prepare_all(load_params())
    write_json("metrics/data.json", summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
