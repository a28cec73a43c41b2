"""Stage own_corpus: finetune.corpus as the path of your own manifest file (CSV / TSV / JSON lines) read into the
manifest and rejects report of corpus `own` (an empty one when finetune.corpus names a corpus). DVC runs it on
every `dvc repro` (always_changed): it rewrites its outputs only when the manifest or a file it lists changed."""

import json

from sa2sr_core.corpora.prepare import prepare_own
from sa2sr_core.errors import run_main
from sa2sr_core.io import write_json
from sa2sr_core.params import OWN, load_params, summary_path


def main() -> None:
    params = load_params()
    summary = prepare_own(params)
    path = summary_path(params, "prepare", OWN)
    if not path.is_file() or json.loads(path.read_text()) != summary:
        write_json(path, summary)
    print(json.dumps({OWN: summary}, indent=1))


if __name__ == "__main__":
    run_main(main)
