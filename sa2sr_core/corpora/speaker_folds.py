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
from sa2sr_core.corpora.msp_podcast import SPLIT_SET
from sa2sr_core.corpora.own import FIXED_SPLITS, FORMATS, _audio_path, _rows

#: MSP-Podcast's Split_Set names as a manifest's split names (its Development is a manifest's `development`).
MSP_SPLITS = {k: {v: k for k, v in FIXED_SPLITS.items()}.get(v, v) for k, v in SPLIT_SET.items()}


def read_table(path: str | Path) -> pd.DataFrame:
    """A manifest file (CSV, TSV, JSON lines) as it is, every cell a string, read as `sa2sr manifest own` reads it;
    a line that cannot be parsed is an error naming it (a fold file would otherwise lose it or renumber it)."""
    path = Path(path)
    if path.suffix.lower() in FORMATS and not path.is_file():  # another suffix: _rows names the formats
        raise ManifestError(f"{path}: no such file")
    columns, rows = _rows(path)
    bad = [line for line, rec in rows if rec is None]
    if bad:
        raise ManifestError(f"{path}:{bad[0]}: cannot be parsed ({len(bad)} such line(s))")
    return pd.DataFrame([{c: rec.get(c) or "" for c in columns} for _, rec in rows], columns=columns)


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
    return m.assign(path=[p if Path(p).is_absolute() else str(_audio_path(Path(manifest), p).resolve())
                          for p in m["path"]])
