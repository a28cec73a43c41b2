"""Feature extraction over the prepared manifests: every (corpus, split) to Parquet shards."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sa2sr_core.io import write_csv
from sa2sr_core.params import fbank_config
from sa2sr_core.prepare import load_manifest
from sa2sr_core.shards import extract_split


def split_dir(params: dict, corpus: str, split: str) -> Path:
    return Path(params["data"]["features_dir"]) / corpus / split


def extract_all(params: dict) -> dict:
    """Extract the corpora named in data.feature_corpora; write the features rejects report; return a summary."""
    cfg = fbank_config(params)
    fparams, data = params["features"], params["data"]
    summary, rejects = {}, []
    for corpus in data["feature_corpora"]:
        manifest = load_manifest(params, corpus)
        summary[corpus] = {}
        for split, rows in manifest.groupby("split", sort=True):
            speeds = cfg.speed_perturb if (corpus == data.get("speed_perturb_corpus") and split == "train") else []
            res = extract_split(rows, split_dir(params, corpus, split), cfg, speeds,
                                max_seconds=float(fparams.get("shard_max_seconds", 1800)),
                                workers=int(fparams.get("workers", 1)), desc=f"features {corpus}/{split}")
            rejects += [{"corpus": corpus, "split": split, **r} for r in res.pop("rejects")]
            res["rejected"] = sum(1 for r in rejects if r["corpus"] == corpus and r["split"] == split)
            summary[corpus][split] = res
    write_csv(Path(data["features_dir"]) / "rejects.csv",
              pd.DataFrame(rejects, columns=["corpus", "split", "file", "utt_id", "reason"]))
    return summary
