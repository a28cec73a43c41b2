"""The manifest: one row per utterance keyed by `utt_id`, the data contract between corpus readers and stages.

Every reader returns a `CorpusRead`: manifest rows plus one reject per input it skipped, with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from sa2sr_core.errors import Sa2srError
from sa2sr_core.io import write_csv, write_parquet
from sa2sr_core.names import DIMS

#: Columns of every manifest, in order. Labels a corpus does not have are null.
COLUMNS = [
    "utt_id", "corpus", "path", "speaker", "split", "subset", "duration_s", "sample_rate", "num_channels",
    "text", "emotion", *DIMS,
]
#: Canonical split names; corpus-specific partition names are kept in `subset`.
SPLITS = ("train", "validation", "test", "test1", "test2", "test3")
#: Speaker ids that mean "not known"; they are exempt from the speaker-disjointness check.
UNKNOWN_SPEAKERS = {"", "unknown", "Unknown", "UNKNOWN"}


@dataclass
class Reject:
    """An input that was skipped: which file (and line, where it applies) and why."""

    file: str
    reason: str
    corpus: str = ""


@dataclass
class CorpusRead:
    """What a corpus reader found: the manifest rows and the rejects."""

    corpus: str
    rows: list[dict] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    splits: tuple[str, ...] = SPLITS  # the split names this corpus may use (a user's manifest names its test sets)

    def reject(self, file: str | Path, reason: str) -> None:
        self.rejects.append(Reject(str(file), reason, self.corpus))

    def manifest(self) -> pd.DataFrame:
        """The rows as a validated DataFrame (duplicate ids already moved to rejects)."""
        df = pd.DataFrame(self.rows, columns=COLUMNS)
        for col in (*DIMS, "duration_s"):
            df[col] = df[col].astype("float64")
        for col in ("sample_rate", "num_channels"):
            df[col] = df[col].astype("int64")
        df = df.sort_values("utt_id", kind="stable").reset_index(drop=True)
        validate_manifest(df, self.corpus, self.splits)
        return df

    def rejects_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(r) for r in self.rejects], columns=["corpus", "file", "reason"])

    def add(self, row: dict, seen: dict[str, str]) -> None:
        """Add `row` unless its utt_id was seen before (then it becomes a reject naming both files)."""
        uid = row["utt_id"]
        if uid in seen:
            self.reject(row["path"], f"duplicate utt_id {uid!r} (first seen in {seen[uid]})")
            return
        seen[uid] = row["path"]
        self.rows.append({c: row.get(c) for c in COLUMNS} | {"corpus": self.corpus})


class ManifestError(Sa2srError):
    """A manifest that breaks the contract (ids, splits, durations, speakers); the message names the corpus."""


def validate_manifest(df: pd.DataFrame, corpus: str, splits: tuple[str, ...] = SPLITS) -> None:
    """Check the contract: unique ids, known splits, positive durations, speaker-disjoint splits."""
    if df.empty:
        raise ManifestError(f"{corpus}: the manifest is empty: no usable utterance was found (see the rejects report)")
    dup = df["utt_id"][df["utt_id"].duplicated()]
    if len(dup):
        raise ManifestError(f"{corpus}: duplicate utt_id values: {sorted(dup)[:5]}")
    bad_split = sorted(set(df["split"]) - set(splits))
    if bad_split:
        raise ManifestError(f"{corpus}: unknown split names {bad_split}; expected some of {splits}")
    if not (df["duration_s"] > 0).all():
        raise ManifestError(f"{corpus}: non-positive durations for {df.loc[df['duration_s'] <= 0, 'utt_id'].tolist()[:5]}")
    overlap = speaker_overlap(df)
    if overlap:
        raise ManifestError(f"{corpus}: speakers appear in more than one split (not speaker-disjoint): {overlap}")


def speaker_overlap(df: pd.DataFrame) -> dict[str, list[str]]:
    """Speakers (other than unknown ones) found in more than one split, with those splits."""
    known = df[~df["speaker"].isin(UNKNOWN_SPEAKERS)]
    per_speaker = known.groupby("speaker")["split"].unique()
    return {spk: sorted(s) for spk, s in per_speaker.items() if len(s) > 1}


def write_manifest(read: CorpusRead, manifest_path: str | Path, rejects_path: str | Path) -> pd.DataFrame:
    """Validate and write the manifest (Parquet) and the rejects report (CSV), both atomically."""
    df = read.manifest()
    write_parquet(manifest_path, df)
    write_csv(rejects_path, read.rejects_frame())
    return df


def label_counts(df: pd.DataFrame) -> dict:
    """How many utterances carry each emotion class, and how many A/V/D."""
    return {"categories": {str(k): int(v) for k, v in df["emotion"].value_counts().sort_index().items()},
            "dimensions": int(df["activation"].notna().sum())}


def summarize(df: pd.DataFrame) -> dict:
    """Counts and hours per split, for metrics and logs."""
    out = {}
    for split, g in df.groupby("split"):
        out[split] = {
            "utterances": int(len(g)),
            "speakers": int(g["speaker"].nunique()),
            "hours": round(float(g["duration_s"].sum()) / 3600, 4),
        }
    return out


def load_manifest(path: str | Path) -> pd.DataFrame:
    """A corpus's manifest (stage prepare@<corpus>, or own_corpus) as a DataFrame."""
    path = Path(path)
    if not path.is_file():
        stage = "own_corpus" if path.stem == "own" else f"prepare@{path.stem}"
        raise FileNotFoundError(f"manifest {path} not found: run `dvc repro {stage}` first")
    return pd.read_parquet(path)
