"""The pseudo_label step: label every transcript of the pre-training corpus and of IEMOCAP, once each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sa2sr_core.config.labeler import LabelerConfig
from sa2sr_core.corpora.manifest import load_manifest
from sa2sr_core.io import write_parquet
from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.sentiment.labeler import label_texts, load_labeler

LABEL_COLUMNS = ["utt_id", "sentiment", "p_negative", "p_neutral", "p_positive", "status"]


def pseudo_label_corpus(manifest: str | Path, out: str | Path, cfg: LabelerConfig, labeler=None) -> dict:
    """Label the transcripts of `manifest` into `out` (data/labels/<corpus>.parquet); return the corpus's summary
    (labeller, per-class counts, unusual input). Each transcript goes through the model once."""
    labeler = labeler or load_labeler(cfg)
    m = load_manifest(manifest)
    cols, counts = label_texts(labeler, m["text"].tolist(), cfg.sentence_case)
    df = pd.DataFrame({"utt_id": m["utt_id"].values, **cols})[LABEL_COLUMNS]
    write_parquet(out, df)
    return {"labeler": labeler.name, "model_requested": cfg.model, "sentence_case": cfg.sentence_case,
            "utterances": len(df), "per_class": {c: int((df["sentiment"] == c).sum()) for c in SENTIMENT_CLASSES},
            "input": counts}


def sentence_case_effect(labeler, texts: list) -> dict:
    """What sentence-casing ALL-CAPS transcripts changes (a study, not a stage step: it labels every text twice)."""
    cased, _ = label_texts(labeler, texts, sentence_case=True)
    raw, _ = label_texts(labeler, texts, sentence_case=False)
    changed = np.array([a != b for a, b in zip(raw["sentiment"], cased["sentiment"])])
    return {"labels_changed": int(changed.sum()), "fraction_changed": round(float(changed.mean()), 4) if len(changed) else 0.0,
            "per_class_without_sentence_case": {c: int(sum(s == c for s in raw["sentiment"])) for c in SENTIMENT_CLASSES}}


def merge_label_summaries(per_corpus: dict[str, dict]) -> dict:
    """{corpus: pseudo_label_corpus(...)} -> {labeler, model_requested, sentence_case, corpora: {corpus: counts}}."""
    first = next(iter(per_corpus.values()), {})
    head = ("labeler", "model_requested", "sentence_case")
    names = sorted({v["labeler"] for v in per_corpus.values()})
    return {**{k: first.get(k) for k in head}, "labeler": "/".join(names) if names else None,
            "corpora": {c: {k: v for k, v in s.items() if k not in head} for c, s in per_corpus.items()}}
