"""Cross-corpus evaluation: a trained model directory scored on another corpus's test utterances (a model fine-tuned
on MSP-Podcast scored on IEMOCAP, or on your own manifest), beside the in-corpus results SER papers report.

    dimensions  the model's A/V/D mapped linearly from its training scale onto the target's (MSP-Podcast 1-7 ->
                IEMOCAP 1-5): CCC penalises a scale offset that says nothing about emotion; said in the output
    classes     matched by name where the two corpora agree (canonical names: anger = angry = ang = A, ...);
                the model's decision is the most probable of its matched classes, scored on the target utterances
                whose class has a counterpart; the classes on either side without one are named, with counts

Audio is read and featurised as `sa2sr predict` does (an utterance of at most 15 s is scored whole)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sa2sr_core.errors import Sa2srError
from sa2sr_core.names import DIMS

#: Canonical class names and the names corpora give them (IEMOCAP's codes, MSP-Podcast's letters, RAVDESS's and
#: CREMA-D's words and codes); matching is case-insensitive.
ALIASES = {
    "angry": ("anger", "ang", "a"), "happy": ("happiness", "hap", "h", "joy", "hap+exc"),
    "sad": ("sadness", "s"), "neutral": ("neu", "n"), "fear": ("fearful", "fea", "f"),
    "disgust": ("disgusted", "dis", "d"), "surprise": ("surprised", "sur", "u"), "contempt": ("c",),
    "calm": (), "frustrated": ("frustration", "fru"), "excited": ("exc",), "other": ("o", "oth"),
    "no agreement": ("x", "xxx"),
}
_CANONICAL = {alias: name for name, aliases in ALIASES.items() for alias in (name, *aliases)}
#: The targets by name: IEMOCAP (all five sessions, its 4-class task) and MSP-Podcast (Test1, Test2).
TARGETS = ("iemocap", "msp_podcast")


class CrossCorpusError(Sa2srError):
    """A cross-corpus evaluation that cannot run (no such target, nothing to score); the message says why."""


def canonical(name: str) -> str:
    """A class name as the canonical name it matches ('Anger', 'ang', 'A' -> 'angry'); unknown names lower-cased."""
    key = str(name).strip().lower()
    return _CANONICAL.get(key, key)


@dataclass
class ClassMatch:
    pairs: dict[str, str]  # model class -> target class
    model_only: list[str]  # the model's classes without a counterpart in the target
    target_only: dict[str, int]  # the target's classes without a counterpart: utterances left out


def match_classes(model_classes, target_counts: dict[str, int]) -> ClassMatch:
    """Pair the model's classes with the target's by canonical name."""
    by_name = {canonical(c): c for c in target_counts}
    pairs = {m: by_name[canonical(m)] for m in model_classes if canonical(m) in by_name}
    return ClassMatch(pairs, [m for m in model_classes if m not in pairs],
                      {t: int(n) for t, n in target_counts.items() if t not in pairs.values()})


@dataclass
class Target:
    name: str
    utterances: pd.DataFrame  # utt_id, path, split, category (or None), activation, valence, dominance
    scale: tuple[float, float]


def target_utterances(params: dict, target: str, scale: tuple[float, float] | None = None) -> Target:
    """The test utterances of a target: `iemocap` (every session; its 4-class task), `msp_podcast` (evaluate.splits),
    or the path of a manifest (its test splits; A/V/D on `scale`, default finetune.scale_min..scale_max)."""
    from sa2sr_core.corpora.finetuning import target_scale
    from sa2sr_core.corpora.iemocap import FOUR_CLASSES
    from sa2sr_core.corpora.manifest import load_manifest
    from sa2sr_core.corpora.own import FORMATS, read_own_manifest
    from sa2sr_core.params import manifest_path

    if target == "iemocap":
        df = load_manifest(manifest_path(params, "iemocap")).copy()
        df["split"], df["category"] = "iemocap", df["emotion"].map(FOUR_CLASSES)
        return Target("iemocap", df, target_scale("iemocap"))
    if target == "msp_podcast":
        df = load_manifest(manifest_path(params, "msp_podcast"))
        df = df[df["split"].isin(params["evaluate"]["splits"])].copy()
        df["category"] = df["emotion"]
        return Target("msp_podcast", df, target_scale("msp_podcast"))
    path = Path(target)
    if path.suffix.lower() not in FORMATS:
        raise CrossCorpusError(f"target {target!r}: neither a corpus ({', '.join(TARGETS)}) nor a manifest file")

    scale = scale or (float(params["finetune"]["scale_min"]), float(params["finetune"]["scale_max"]))
    read = read_own_manifest(path, scale, for_training=False)
    df = pd.DataFrame(read.rows)
    df = df[~df["split"].isin(("train", "validation"))].copy()
    df["category"] = df["emotion"]
    return Target(str(path), df, scale)


def rescale(values: np.ndarray, source: tuple[float, float], target: tuple[float, float]) -> np.ndarray:
    """Linear map of `source` scale onto `target` (low to low, high to high)."""
    return target[0] + (values - source[0]) * (target[1] - target[0]) / (source[1] - source[0])


def score_cross_corpus(files: pd.DataFrame, target: Target, model_scale, dimensions: bool,
                       classes: tuple[str, ...], n_boot: int = 1000, seed: int = 0) -> dict:
    """Score `sa2sr predict`'s per-file rows against the target's labels, per test split."""
    from sa2sr_core.evaluation.evaluate import score
    from sa2sr_core.metrics import class_scores
    from sa2sr_core.names import class_column

    utts = target.utterances.assign(file=[str(Path(p)) for p in target.utterances["path"]])
    merged = utts.merge(files, on="file", how="left", suffixes=("", "_pred"))
    out = {"target": target.name, "scale": {"model": list(model_scale), "target": list(target.scale),
                                            "note": "A/V/D mapped linearly from the model's scale onto the target's"},
           "not_scored": int((merged["status"] != "ok").sum()), "splits": {}}
    ok = merged[merged["status"] == "ok"]
    counts = ok["category"].dropna().value_counts().to_dict()
    match = match_classes(classes, counts) if classes else None
    if match is not None:
        out["classes"] = {"matched": match.pairs, "model_only": match.model_only, "target_only": match.target_only}
    for split, g in ok.groupby("split", sort=True):
        res = {"n": int(len(g))}
        if dimensions:
            t = g[list(DIMS)].to_numpy(float)
            m = ~np.isnan(t).any(axis=1)
            p = rescale(g[[f"{d}_raw" for d in DIMS]].to_numpy(float), model_scale, target.scale)
            res.update(score(p[m], t[m], n_boot, seed))
        if match is not None and match.pairs:
            model_names = list(match.pairs)
            h = g[g["category"].isin(set(match.pairs.values()))]
            probs = h[[class_column(c) for c in model_names]].to_numpy(float)
            index = {match.pairs[c]: i for i, c in enumerate(model_names)}
            names = tuple(match.pairs[c] for c in model_names)
            res["categories"] = class_scores(h["category"].map(index).to_numpy(), probs.argmax(1), names, n_boot,
                                             seed)
        out["splits"][split] = res
    if not out["splits"]:
        raise CrossCorpusError(f"{target.name}: no utterance could be scored ({out['not_scored']} not scored)")
    return out


def cross_corpus(model_dir: str | Path, target: str, params: dict, n_boot: int = 1000, seed: int = 0,
                 device=None, progress: bool = True, scale: tuple[float, float] | None = None,
                 vad: str = "silero") -> dict:
    """Load a model directory, score every test utterance of `target` with it (as `sa2sr predict --vad <vad>`
    does), and compare with the labels."""
    from sa2sr_core.config.inference import PredictConfig, SegmentConfig
    from sa2sr_core.inference.predict import predict_recordings
    from sa2sr_core.models.directory import demo_notice
    from sa2sr_core.models.packaged import load_model

    model, config = load_model(model_dir, device or "cpu")
    t = target_utterances(params, target, scale)
    if t.utterances.empty:
        raise CrossCorpusError(f"{t.name}: no test utterances")
    preds = predict_recordings(model, config, list(t.utterances["path"].astype(str)),
                               PredictConfig(segment=SegmentConfig(vad=vad), progress=progress))
    files = preds.files.rename(columns={"path": "file"}) if "path" in preds.files else preds.files
    reg = model.cfg.emotion.regressor
    return {"model": str(model_dir), "trained_on_demo": config.trained_on_demo, "notice": demo_notice(config),
            **score_cross_corpus(files, t, config.scale, reg.dimensions, tuple(reg.classes), n_boot, seed)}


def cross_corpus_table(res: dict) -> list[str]:
    """Markdown rows: per test split, CCC per dimension and UA / macro-F1 on the matched classes [95% CI]."""
    def cell(m: dict | None, key: str) -> str:
        if not m or m.get(key) is None:
            return "n/a"
        return f"{m[key]:.3f} [{m['ci95'][0]:.3f}, {m['ci95'][1]:.3f}]"

    rows = ["| target split | n | " + " | ".join(DIMS) + " | mean CCC | UA | macro-F1 |", "|---|---:|" + "---|" * 6]
    for split, r in res["splits"].items():
        c = r.get("categories") or {}
        rows.append(f"| {split} | {r['n']} | " + " | ".join(cell(r.get(d), "ccc") for d in (*DIMS, "mean"))
                    + f" | {cell(c.get('ua'), 'value')} | {cell(c.get('macro_f1'), 'value')} |")
    return rows
