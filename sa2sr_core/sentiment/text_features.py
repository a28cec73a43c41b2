"""The text model's view of each transcript, as the emotion model reads it (sa2sr_core.features.text): the
sentiment probabilities of the pipeline's own text model (RoBERTa-Twitter, or its declared VADER fallback) and, on
request, its mean-pooled last hidden state. Each transcript goes through the model once."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from sa2sr_core.features.text import PROB_COLUMNS, TextFeaturesError, clean_transcript, text_vectors
from sa2sr_core.metrics import edit_distance
from sa2sr_core.sentiment.labeler import prepare_text


def embed_texts(labeler, texts: list[str | None], sentence_case: bool, hidden: bool = False):
    """(probabilities (N, 3), has_text (N,), pooled hidden (N, H) or None) of `texts`; None and empty ones get no
    text (has_text false) and are not sent to the model."""
    clean = [clean_transcript(t) for t in texts]
    idx = [i for i, t in enumerate(clean) if t is not None]
    has = np.zeros(len(texts), bool)
    has[idx] = True
    probs = np.zeros((len(texts), len(PROB_COLUMNS)), np.float32)
    pooled = None
    if hidden and not hasattr(labeler, "embed"):
        raise TextFeaturesError(f"finetune.text.hidden needs a transformer text model's hidden state; the labeller "
                                f"in use ({labeler.name}) has none: set finetune.text.hidden false, or give "
                                f"labeler.model a local model directory")
    if idx:
        batch = [prepare_text(clean[i], sentence_case) for i in idx]
        if hidden:
            p, h = labeler.embed(batch)
            pooled = np.zeros((len(texts), h.shape[1]), np.float32)
            pooled[idx] = h
        else:
            p, _ = labeler.predict(batch)
        probs[idx] = p
    elif hidden:
        pooled = np.zeros((len(texts), labeler.model.config.hidden_size), np.float32)
    return probs, has, pooled


def word_error_counts(refs: list[str], hyps: list[str]) -> dict:
    """Edits and reference lengths in words and characters (lower case, punctuation but apostrophes dropped, the
    CTC alphabet's view): WER = word edits / reference words; CER likewise."""
    def norm(t: str) -> str:
        t = "".join(ch for ch in t.lower() if ch.isalpha() or ch in " '")
        return " ".join(t.split())

    w_edits = w_total = c_edits = c_total = 0
    for r, h in zip(refs, hyps):
        r, h = norm(r), norm(h or "")
        w_edits += edit_distance(r.split(), h.split())
        w_total += len(r.split())
        c_edits += edit_distance(r, h)
        c_total += len(r)
    return {"utterances": len(refs), "reference_words": w_total, "wer": round(w_edits / w_total, 4) if w_total else None,
            "cer": round(c_edits / c_total, 4) if c_total else None}


def text_feature_table(ids: list[str], splits: list[str], transcripts: list[str | None],
                       references: list[str | None], labeler, sentence_case: bool, hidden: bool,
                       source: str) -> tuple[pd.DataFrame, dict]:
    """The table stage text_features writes (sa2sr_core.features.text) and its summary: utterances, how many without
    text (per split), the text model, the time; for an ASR source the transcripts' WER and CER against the corpus's
    own, where it has them."""
    t0 = time.perf_counter()
    probs, has, pooled = embed_texts(labeler, transcripts, sentence_case, hidden)
    seconds = time.perf_counter() - t0
    x = text_vectors(probs, has, pooled)  # zeros where there is no text
    hyps, refs = [clean_transcript(t) for t in transcripts], [clean_transcript(t) for t in references]
    df = pd.DataFrame({"utt_id": pd.Series(ids, dtype=object), "split": pd.Series(splits, dtype=object),
                       "source": source, "text_model": labeler.name, "transcript": pd.Series(hyps, dtype=object),
                       "reference": pd.Series(refs, dtype=object), "has_text": has,
                       **{c: x[:, i] for i, c in enumerate(PROB_COLUMNS)}})
    if pooled is not None:
        df["hidden"] = list(x[:, len(PROB_COLUMNS) + 1:])
    per_split = {}
    for s in dict.fromkeys(splits):
        m = np.array([v == s for v in splits])
        per_split[s] = {"utterances": int(m.sum()), "without_text": int((~has[m]).sum())}
    summary = {"source": source, "text_model": labeler.name, "hidden": bool(hidden),
               "features": int(x.shape[1]), "utterances": len(ids), "without_text": int((~has).sum()),
               "splits": per_split, "seconds": round(seconds, 2)}
    if source == "asr":
        pairs = [(r, h) for r, h in zip(refs, hyps) if r]
        summary["asr"] = {"scored_against": "the corpus's own transcripts",
                          **word_error_counts([r for r, _ in pairs], [h for _, h in pairs])} if pairs else \
            {"scored_against": None, "note": "the corpus has no transcripts: WER / CER cannot be measured"}
    return df, summary
