"""Stage baseline's logic: the classical baselines (sa2sr_core.models.classical: ridge per dimension, logistic
regression for classes, scikit-learn) fitted per partition of the fine-tuning corpus, their test predictions and
summary. Utterances are filtered exactly as for the deep model (`scan_emotion_split`), so both are scored on the
same test utterances by the same CCC and bootstrap code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sa2sr_core.config.baseline import BaselineConfig
from sa2sr_core.corpora.finetuning import FinetuneCorpus
from sa2sr_core.features.emotion import read_split, scan_emotion_split, task_and_classes
from sa2sr_core.metrics import ccc_per_dim
from sa2sr_core.models.classical import (ClassData, LogisticBaseline, RidgeBaseline, SplitData, class_data, fit_logistic,
                                         fit_ridge, split_data)
from sa2sr_core.names import DIMS, class_column


def load_split(split_dir, cfg, min_frames: int) -> SplitData:
    """The utterances of `split_dir` the deep model would use (cfg: the label scale, e.g. a FinetuneConfig)."""
    return split_data(scan_emotion_split(split_dir, cfg, min_frames))


def predictions_frame(split: str, data: SplitData, preds: np.ndarray) -> pd.DataFrame:
    """The same columns as the deep model's predictions (evaluate stage)."""
    return pd.DataFrame({"utt_id": data.ids, "split": split,
                         **{f"true_{d}": data.y[:, i] for i, d in enumerate(DIMS)},
                         **{f"pred_{d}": preds[:, i] for i, d in enumerate(DIMS)}})


def summary(model: RidgeBaseline, train: SplitData, test: dict[str, SplitData]) -> dict:
    out = {"model": "ridge regression per dimension on utterance functionals of unnormalised LFBE",
           "functionals": int(train.x.shape[1]), "train_utterances": len(train.ids),
           "alpha": model.alphas, "validation_ccc": model.dev_ccc}
    for split, d in test.items():
        out[split] = {"n": len(d.ids), **ccc_per_dim(model.predict(d.x), d.y)}
    return out


def class_predictions_frame(split: str, data: ClassData, model: LogisticBaseline) -> pd.DataFrame:
    """The same category columns as the deep model's predictions."""
    probs = model.predict_proba(data.x)
    return pd.DataFrame({"utt_id": data.ids, "split": split,
                         "category": [model.classes[i] for i in data.c],
                         "pred_category": [model.classes[i] for i in probs.argmax(1)] if len(data.ids) else [],
                         **{class_column(c): probs[:, i] for i, c in enumerate(model.classes)}})


def fit_fold(parts: dict, cfg: BaselineConfig, ft_cfg, min_frames: int, corpus: FinetuneCorpus,
             text=None) -> tuple[list, dict, list, dict]:
    """The baselines of one partition: parts = {train: dir(s), validation: dir(s), <test split>: dir, ...}; the
    ridge (A/V/D) and/or the logistic regression (classes) as fine-tuning's task has them, fitted on train with the
    regulariser chosen on validation, on the functionals; with `text` (TextFeatures, the text route) the same models
    on the text features alone: the text-only baseline. Returns (test prediction frames, summary, the text-only
    baseline's frames, its summary). Test splits without features (every file rejected) are left out."""
    from pathlib import Path

    parts = {s: d for s, d in parts.items() if s in ("train", "validation") or Path(d).is_dir()}
    tables = {s: read_split(d, text) for s, d in parts.items()}  # each split's shards read once
    task, classes = task_and_classes(ft_cfg.task, corpus.auto_task, tables["train"])
    scans = {s: scan_emotion_split(t, ft_cfg, min_frames, task, classes) for s, t in tables.items()}
    tests = [s for s in parts if s not in ("train", "validation")]
    results = []
    for stats, use_text in ((True, False), (False, True)) if text is not None else ((True, False),):
        frames, out = [], {"task": task}
        if task in ("dimensions", "both"):
            data = {s: split_data(scans[s], stats, use_text) for s in parts}
            model = fit_ridge(data["train"], data["validation"], cfg)
            frames += [predictions_frame(s, data[s], model.predict(data[s].x)) for s in tests]
            out.update(summary(model, data["train"], {s: data[s] for s in tests}))
        if classes:
            data = {s: class_data(scans[s], stats, use_text) for s in parts}
            model = fit_logistic(data["train"], data["validation"], cfg, classes, ft_cfg.class_balanced)
            frames += [class_predictions_frame(s, data[s], model) for s in tests]
            out["categories"] = {"model": "multinomial logistic regression on the same "
                                 + ("functionals" if stats else "text features"), "classes": list(classes),
                                 "lambda": model.lam, "validation_ua": model.dev_ua,
                                 "train_utterances": len(data["train"].ids)}
        if use_text:
            out["inputs"] = f"the text features of the {text.source} transcripts ({text.dim}: {', '.join(text.names[:4])}" \
                            f"{', pooled hidden state' if text.dim > 4 else ''})"
            if "model" in out:
                out["model"] = "ridge regression per dimension on the text features"
        results.append((frames, out))
    frames, out = results[0]
    text_frames, text_out = results[1] if len(results) > 1 else ([], {})
    return frames, out, text_frames, text_out
