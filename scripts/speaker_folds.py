"""Write speaker folds of a manifest: Development repeated over other speakers, the test splits untouched.

    python scripts/speaker_folds.py data/mine.csv folds/ --folds 5
    python scripts/speaker_folds.py --msp-podcast data/demo/msp_podcast/MSP-Podcast folds/ --folds 5
    dvc exp run -S finetune.corpus=folds/fold-2.csv -S finetune.text.fusion=concat   # one run per fold

fold-<k>.csv has the k-th group of speakers as `development` and the other train / development speakers as
`train` (fold 1: the manifest's own development); the test rows are copied as they are. Compare designs on each
fold's Development figures (metrics/finetune.json), never its test figures (sa2sr_core/corpora/speaker_folds.py;
docs/text.md, "Which one"). --msp-podcast reads an MSP-Podcast layout as a manifest of its dimensions and
transcripts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sa2sr_core.corpora.speaker_folds import (ManifestError, absolute_paths, fold_manifest, msp_podcast_manifest,
                                              read_table, speaker_groups)
from sa2sr_core.io import write_csv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path, nargs="?", help="a manifest (.csv, .tsv, .jsonl)")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--msp-podcast", type=Path, metavar="ROOT", help="read this MSP-Podcast root instead")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    if (args.manifest is None) == (args.msp_podcast is None):
        ap.error("give a manifest or --msp-podcast ROOT, one of the two")
    try:
        source = args.msp_podcast or args.manifest
        m = msp_podcast_manifest(source) if args.msp_podcast else absolute_paths(read_table(source), source)
        groups = speaker_groups(m, args.folds, str(source))
    except ManifestError as e:
        sys.exit(f"error: {e}")
    for k, group in enumerate(groups, start=1):
        write_csv(args.out_dir / f"fold-{k}.csv", fold_manifest(m, group))
        print(f"{args.out_dir / f'fold-{k}.csv'}: development {', '.join(group)}")


if __name__ == "__main__":
    main()
