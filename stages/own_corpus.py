"""Stage own_corpus: the fine-tuning corpus (corpora.finetuning) as the manifest and rejects report of corpus
`own` — IEMOCAP's five sessions, your own manifest file (CSV / TSV / JSON lines), or an empty one for MSP-Podcast;
rewritten only when what it is read from changed."""

import json

from sa2sr_core.corpora.finetuning import OwnPaths, finetune_corpus, prepare_own
from sa2sr_core.errors import run_main
from sa2sr_core.io import write_json
from sa2sr_core.params import OWN, load_params


def main() -> None:
    params = load_params()
    paths = OwnPaths.from_params(params)
    summary = prepare_own(finetune_corpus(params), paths)
    if not paths.summary.is_file() or json.loads(paths.summary.read_text()) != summary:
        write_json(paths.summary, summary)
    print(json.dumps({OWN: summary}, indent=1))


if __name__ == "__main__":
    run_main(main)
