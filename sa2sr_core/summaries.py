"""The per-corpus summaries the data stages write under data.summaries_dir (prepare_, features_, labels_<corpus>
.json), read back for the model card and the report."""

from __future__ import annotations

import json

from sa2sr_core.params import CORPORA, OWN, summary_path


def read_summaries(params: dict, kind: str, corpora=None) -> dict[str, dict]:
    """{corpus: summary} of one kind, for the corpora given (default: those whose summary exists)."""
    corpora = corpora if corpora is not None else [c for c in CORPORA if summary_path(params, kind, c).is_file()]
    out = {}
    for c in corpora:
        path = summary_path(params, kind, c)
        if not path.is_file():
            stage = "own_corpus" if c == OWN else f"{kind if kind != 'labels' else 'pseudo_label'}@{c}"
            raise FileNotFoundError(f"{path} not found: run `dvc repro {stage}`")
        out[c] = json.loads(path.read_text())
    return out
