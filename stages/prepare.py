"""Stage prepare: one manifest and one rejects report per corpus under data.manifests_dir."""

import json

from sa2sr_core.io import write_json
from sa2sr_core.params import load_params
from sa2sr_core.prepare import prepare_all


def main() -> None:
    params = load_params()
    summary = prepare_all(params)
    write_json(params["data"]["summary"], summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
