"""The pseudo_label step: label every transcript of the pre-training corpus and of IEMOCAP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sa2sr_core.io import write_parquet
from sa2sr_core.prepare import load_manifest
from sa2sr_core.sentiment import CLASSES, LabelerConfig, label_texts, load_labeler

LABEL_COLUMNS = ["utt_id", "sentiment", "p_negative", "p_neutral", "p_positive", "status"]


def labels_path(params: dict, corpus: str) -> Path:
    return Path(params["data"]["labels_dir"]) / f"{corpus}.parquet"


def pseudo_label_all(params: dict, labeler=None) -> dict:
    """Write data/labels/<corpus>.parquet for each corpus in labeler.corpora; return metrics/labels.json."""
    section = dict(params.get("labeler", {}))
    corpora = section.pop("corpora", ["librispeech", "iemocap"])
    cfg = LabelerConfig(**section)
    labeler = labeler or load_labeler(cfg)
    out = {"labeler": labeler.name, "model_requested": cfg.model, "sentence_case": cfg.sentence_case, "corpora": {}}
    for corpus in corpora:
        m = load_manifest(params, corpus)
        cols, counts = label_texts(labeler, m["text"].tolist(), cfg.sentence_case)
        df = pd.DataFrame({"utt_id": m["utt_id"].values, **cols})[LABEL_COLUMNS]
        write_parquet(labels_path(params, corpus), df)
        per_class = {c: int((df["sentiment"] == c).sum()) for c in CLASSES}
        entry = {"utterances": len(df), "per_class": per_class, "input": counts}
        if cfg.sentence_case:  # what sentence-casing ALL-CAPS transcripts changes, measured on this corpus
            raw, _ = label_texts(labeler, m["text"].tolist(), sentence_case=False)
            changed = np.array([a != b for a, b in zip(raw["sentiment"], cols["sentiment"])])
            entry["sentence_case_effect"] = {
                "labels_changed": int(changed.sum()), "fraction_changed": round(float(changed.mean()), 4),
                "per_class_without_sentence_case": {c: int(sum(s == c for s in raw["sentiment"])) for c in CLASSES},
            }
        out["corpora"][corpus] = entry
    return out
