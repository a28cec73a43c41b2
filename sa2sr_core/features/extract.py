"""Feature extraction over a prepared manifest: every split of one corpus to Parquet shards."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from sa2sr_core.config.features import FeatureConfig
from sa2sr_core.corpora.manifest import load_manifest
from sa2sr_core.features.shards import extract_split
from sa2sr_core.io import write_csv


def extract_corpus(manifest: str | Path, out_root: str | Path, cfg: FeatureConfig, perturb_train: bool = False,
                   max_seconds: float = 1800.0, workers: int = 1) -> dict:
    """Extract every split of `manifest` to out_root/<split>/ (speed perturbation of the train split when
    `perturb_train`); write the rejects report out_root/rejects.csv; remove split folders the manifest no longer
    has; return {split: summary}."""
    m, root = load_manifest(manifest), Path(out_root)
    summary, rejects = {}, []
    for split, rows in m.groupby("split", sort=True):
        speeds = cfg.speed_perturb if perturb_train and split == "train" else []
        res = extract_split(rows, root / split, cfg, speeds, max_seconds=max_seconds, workers=workers,
                            desc=f"features {root.name}/{split}")
        split_rejects = res.pop("rejects")
        reused = res.pop("reused_shards")  # said, not summarised: the summary is the same after a resumed run
        if reused:
            print(f"features {root.name}/{split}: {reused} of {res['shards']} shards kept from an interrupted run",
                  flush=True)
        rejects += [{"split": split, **r} for r in split_rejects]
        summary[split] = {**res, "rejected": len(split_rejects)}
    for stale in sorted(p for p in root.glob("*") if p.is_dir() and p.name not in summary):
        shutil.rmtree(stale)  # a split the manifest no longer has (the output persists between runs)
    write_csv(root / "rejects.csv", pd.DataFrame(rejects, columns=["split", "file", "utt_id", "reason"]))
    return summary
