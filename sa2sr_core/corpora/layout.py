"""A quick look at a corpus root before anything long runs: is it the official layout, and has it the splits
the study needs? Reads folder names and the MSP-Podcast label file only (seconds, even for 960 h)."""

from __future__ import annotations

import csv
from pathlib import Path

from sa2sr_core.corpora.iemocap import find_iemocap_root, session_name
from sa2sr_core.corpora.librispeech import SUBSET_SPLIT, CorpusLayoutError, find_librispeech_root
from sa2sr_core.corpora.msp_podcast import SPLIT_SET, find_msp_root

#: What the study needs of each corpus: every split in the first set, and at least one of the second.
REQUIRED_SPLITS = {
    "librispeech": ({"train", "validation"}, set()),
    "iemocap": (set(), set()),
    "msp_podcast": ({"train", "validation"}, {"test1", "test2"}),
}
#: How each corpus names its splits, for messages.
SPLIT_NAMES = {
    "librispeech": {"train": "train-clean-100 / train-clean-360 / train-other-500",
                    "validation": "dev-clean / dev-other", "test": "test-clean / test-other"},
    "msp_podcast": {v: f"Split_Set {k}" for k, v in SPLIT_SET.items()},
}


def splits_present(corpus: str, root: str | Path) -> set[str]:
    """The canonical splits found under `root` (raises CorpusLayoutError when it is not the corpus's layout)."""
    if corpus == "librispeech":
        base = find_librispeech_root(root)
        return {split for subset, split in SUBSET_SPLIT.items() if (base / subset).is_dir()}
    if corpus == "iemocap":
        base = find_iemocap_root(root)
        sessions = [i for i in range(1, 6) if (base / f"Session{i}" / "dialog" / "EmoEvaluation").is_dir()]
        return {session_name(i) for i in sessions}
    if corpus == "msp_podcast":
        _, label_file = find_msp_root(root)
        with open(label_file, newline="", encoding="utf-8") as f:
            values = {(r.get("Split_Set") or "").strip() for r in csv.DictReader(f)}
        return {SPLIT_SET[v] for v in values if v in SPLIT_SET}
    raise ValueError(f"unknown corpus {corpus!r}")


def check_layout(corpus: str, root: str | Path) -> set[str]:
    """splits_present, and a CorpusLayoutError naming what is missing when the study cannot run on it."""
    found = splits_present(corpus, root)
    need_all, need_one = REQUIRED_SPLITS[corpus]
    names = SPLIT_NAMES.get(corpus, {})
    missing = sorted(need_all - found)
    if missing:
        raise CorpusLayoutError(f"{corpus} at {root} has no {', '.join(f'{s} split ({names.get(s, s)})' for s in missing)}"
                                f"; found {sorted(found) or 'none'}")
    if need_one and not need_one & found:
        raise CorpusLayoutError(f"{corpus} at {root} has no test split: need one of "
                                f"{', '.join(names.get(s, s) for s in sorted(need_one))}; found {sorted(found)}")
    if corpus == "iemocap" and not found:
        raise CorpusLayoutError(f"iemocap at {root}: no Session*/dialog/EmoEvaluation folder")
    return found
