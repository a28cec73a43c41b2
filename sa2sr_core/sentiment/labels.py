"""The pseudo_label step: label every transcript of the pre-training corpus and of IEMOCAP."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sa2sr_core.config.labeler import labeler_config
from sa2sr_core.io import write_parquet
from sa2sr_core.names import SENTIMENT_CLASSES
from sa2sr_core.params import labels_path, load_manifest
from sa2sr_core.sentiment.labeler import label_texts, load_labeler

LABEL_COLUMNS = ["utt_id", "sentiment", "p_negative", "p_neutral", "p_positive", "status"]


def pseudo_label_corpus(params: dict, corpus: str, labeler=None) -> dict:
    """Write data/labels/<corpus>.parquet; return the corpus's summary (labeller, per-class counts, ...)."""
    cfg = labeler_config(params)
    labeler = labeler or load_labeler(cfg)
    m = load_manifest(params, corpus)
    cols, counts = label_texts(labeler, m["text"].tolist(), cfg.sentence_case)
    df = pd.DataFrame({"utt_id": m["utt_id"].values, **cols})[LABEL_COLUMNS]
    write_parquet(labels_path(params, corpus), df)
    out = {"labeler": labeler.name, "model_requested": cfg.model, "sentence_case": cfg.sentence_case,
           "utterances": len(df), "per_class": {c: int((df["sentiment"] == c).sum()) for c in SENTIMENT_CLASSES},
           "input": counts}
    if cfg.sentence_case:  # what sentence-casing ALL-CAPS transcripts changes, measured on this corpus
        raw, _ = label_texts(labeler, m["text"].tolist(), sentence_case=False)
        changed = np.array([a != b for a, b in zip(raw["sentiment"], cols["sentiment"])])
        out["sentence_case_effect"] = {
            "labels_changed": int(changed.sum()), "fraction_changed": round(float(changed.mean()), 4),
            "per_class_without_sentence_case": {c: int(sum(s == c for s in raw["sentiment"])) for c in SENTIMENT_CLASSES},
        }
    return out


def merge_label_summaries(per_corpus: dict[str, dict]) -> dict:
    """{corpus: pseudo_label_corpus(...)} -> {labeler, model_requested, sentence_case, corpora: {corpus: counts}}."""
    first = next(iter(per_corpus.values()), {})
    head = ("labeler", "model_requested", "sentence_case")
    names = sorted({v["labeler"] for v in per_corpus.values()})
    return {**{k: first.get(k) for k in head}, "labeler": "/".join(names) if names else None,
            "corpora": {c: {k: v for k, v in s.items() if k not in head} for c, s in per_corpus.items()}}
