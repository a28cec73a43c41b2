"""Speaker folds of a manifest: Development repeated over other speakers, the test splits untouched.

A design choice (a fusion, a feature set) is made on Development, and a Development of a few speakers may not show
what other speakers would (docs/text.md, "Which one"). `speaker_groups` deals the train + development speakers into
groups: group 1 is the manifest's own development speakers, and the train speakers, in the order they first appear,
are cut into the others (as equal as they go). `fold_manifest` makes group k development and every other of those
speakers train; test rows stay as they are, so a comparison across folds reads only Development figures.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sa2sr_core.corpora.manifest import ManifestError

SEPARATORS = {".csv": ",", ".tsv": "\t"}
#: MSP-Podcast's Split_Set names as a manifest's split names (docs/own-data.md).
MSP_SPLITS = {"Train": "train", "Development": "development", "Test1": "test1", "Test2": "test2"}


def read_table(path: str | Path) -> pd.DataFrame:
    """A manifest file (CSV, TSV, JSON lines) as it is, every cell a string where the file gives one."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    if path.suffix not in SEPARATORS:
        raise ManifestError(f"{path}: a manifest is .csv, .tsv or .jsonl (docs/own-data.md)")
    if not path.is_file():
        raise ManifestError(f"{path}: no such file")
    return pd.read_csv(path, sep=SEPARATORS[path.suffix], dtype=str, keep_default_na=False)


def msp_podcast_manifest(root: str | Path) -> pd.DataFrame:
    """An MSP-Podcast layout (Labels/labels_consensus.csv, Audios/, Transcripts/) as a manifest of its dimensions
    and transcripts, in the labels' order: the demo's gives the MSP-Podcast figures number for number. Paths are
    absolute; a file without a transcript gets an empty one."""
    root = Path(root)
    labels = root / "Labels" / "labels_consensus.csv"
    if not labels.is_file():
        raise ManifestError(f"{labels}: no such file (is {root} an MSP-Podcast root?)")
    rows = []
    for r in pd.read_csv(labels).itertuples():
        stem = Path(r.FileName).stem
        text = root / "Transcripts" / f"{stem}.txt"
        rows.append({"utt_id": stem, "path": str((root / "Audios" / r.FileName).resolve()),
                     "speaker": f"msp-{r.SpkrID}", "split": MSP_SPLITS.get(r.Split_Set, str(r.Split_Set).lower()),
                     "activation": r.EmoAct, "valence": r.EmoVal, "dominance": r.EmoDom,
                     "transcript": text.read_text().strip() if text.is_file() else ""})
    return pd.DataFrame(rows)


def speaker_groups(m: pd.DataFrame, folds: int, source: str = "manifest") -> list[list[str]]:
    """Group 1: the development speakers; groups 2..folds: the train speakers in order of first appearance, cut
    into folds - 1 consecutive runs as equal as they go."""
    if not {"speaker", "split"} <= set(m.columns):
        raise ManifestError(f"{source}: speaker folds need the columns speaker and split")
    dev = list(dict.fromkeys(m.loc[m["split"] == "development", "speaker"]))
    train = list(dict.fromkeys(m.loc[m["split"] == "train", "speaker"]))
    if not dev or not train:
        raise ManifestError(f"{source}: speaker folds need train and development rows")
    if not 2 <= folds <= 1 + len(train):
        raise ManifestError(f"{source}: {folds} folds: between 2 and 1 + its {len(train)} train speakers")
    cuts = [round(i * len(train) / (folds - 1)) for i in range(folds)]
    return [dev] + [train[a:b] for a, b in zip(cuts, cuts[1:])]


def fold_manifest(m: pd.DataFrame, group: list[str]) -> pd.DataFrame:
    """The manifest with `group` as development and the other train / development speakers as train."""
    out = m.copy()
    pool = out["split"].isin(["train", "development"])
    out.loc[pool, "split"] = "train"
    out.loc[pool & out["speaker"].isin(group), "split"] = "development"
    return out


def absolute_paths(m: pd.DataFrame, manifest: str | Path) -> pd.DataFrame:
    """Paths relative to the manifest's folder made absolute (the folds are written elsewhere)."""
    if "path" not in m.columns:
        raise ManifestError(f"{manifest}: a manifest needs the column path (docs/own-data.md)")
    base = Path(manifest).parent
    return m.assign(path=[p if Path(p).is_absolute() else str((base / p).resolve()) for p in m["path"]])
