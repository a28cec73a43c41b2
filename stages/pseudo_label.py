"""Stage pseudo_label: negative/neutral/positive labels + probabilities for every transcript (paper §3.1, §4)."""

import json
import logging

from sa2sr_core.io import write_json
from sa2sr_core.labels import pseudo_label_all
from sa2sr_core.params import load_params


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    params = load_params()
    summary = pseudo_label_all(params)
    write_json(params["data"]["labels_summary"], summary)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
