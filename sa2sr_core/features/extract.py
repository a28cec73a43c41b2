"""Feature extraction over the prepared manifests: every (corpus, split) to Parquet shards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from sa2sr_core.config.features import feature_config
from sa2sr_core.features.shards import extract_split
from sa2sr_core.io import write_csv
from sa2sr_core.params import load_manifest, split_dir


def extract_corpus(params: dict, corpus: str) -> dict:
    """Extract every split of one corpus to data.features_dir/<corpus>/<split>/; write its rejects report
    (<corpus>/rejects.csv); return {split: summary}."""
    cfg = feature_config(params)
    fparams, data = params["features"], params["data"]
    manifest = load_manifest(params, corpus)
    summary, rejects = {}, []
    for split, rows in manifest.groupby("split", sort=True):
        speeds = cfg.speed_perturb if (corpus == data.get("speed_perturb_corpus") and split == "train") else []
        res = extract_split(rows, split_dir(params, corpus, split), cfg, speeds,
                            max_seconds=float(fparams.get("shard_max_seconds", 1800)),
                            workers=int(fparams.get("workers", 1)), desc=f"features {corpus}/{split}")
        split_rejects = res.pop("rejects")
        rejects += [{"split": split, **r} for r in split_rejects]
        summary[split] = {**res, "rejected": len(split_rejects)}
    root = Path(data["features_dir"]) / corpus
    for stale in sorted(p for p in root.glob("*") if p.is_dir() and p.name not in summary):
        shutil.rmtree(stale)  # a split the manifest no longer has (the output persists between runs)
    write_csv(root / "rejects.csv", pd.DataFrame(rejects, columns=["split", "file", "utt_id", "reason"]))
    return summary
