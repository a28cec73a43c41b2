"""Write a manifest for the RAVDESS recordings (../shared/data/ravdess-actors-01-12, or any folder of RAVDESS
speech files) as a user would for their own corpus: one row per file, the emotion from the file name, split by
actor, never by file.

    python scripts/ravdess_manifest.py ../shared/data/ravdess-actors-01-12 data/ravdess.csv
    dvc exp run -S finetune.corpus=data/ravdess.csv

RAVDESS file names are 03-01-EE-II-SS-RR-AA: EE the emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry,
06 fearful, 07 disgust, 08 surprised), SS the statement (01 "Kids are talking by the door", 02 "Dogs are sitting
by the door": the same two neutral sentences for every emotion), AA the actor. Split: actors 1-8 train, 9-10
development, 11-12 test (each split half male, half female: odd actors are male). --transcripts adds the
statement as column `transcript` (the text route, docs/text.md: words that carry nothing here).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
            "07": "disgust", "08": "surprised"}


def split_of(actor: int, dev: tuple[int, ...] = (9, 10), test: tuple[int, ...] = (11, 12)) -> str:
    return "development" if actor in dev else "test" if actor in test else "train"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("audio_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--transcripts", action="store_true", help="add each file's statement as column transcript")
    args = ap.parse_args()
    files = sorted(p for p in args.audio_dir.rglob("*") if p.suffix.lower() in (".wav", ".flac"))
    rows = []
    for p in files:
        f = p.stem.split("-")
        if len(f) != 7 or f[2] not in EMOTIONS:
            raise SystemExit(f"{p}: not a RAVDESS file name (03-01-EE-II-SS-RR-AA)")
        actor = int(f[6])
        rows.append({"path": str(p.resolve()), "speaker": f"actor{actor:02d}", "split": split_of(actor),
                     "category": EMOTIONS[f[2]], **({"transcript": STATEMENTS[f[4]]} if args.transcripts else {})})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "speaker", "split", "category"] + (["transcript"] if args.transcripts
                                                                                     else []))
        w.writeheader()
        w.writerows(rows)
    print(f"{len(rows)} recordings -> {args.out}")


if __name__ == "__main__":
    main()
