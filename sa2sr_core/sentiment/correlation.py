"""Text sentiment x speech emotion on IEMOCAP (paper §3.1, Table 1): confusion table, Spearman, Cramér's V."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sa2sr_core.errors import Sa2srError

ROWS = ["Sad", "Anger", "Frustrated", "Neutral", "Happy"]
COLS = ["Negative", "Neutral", "Positive"]
#: The paper's Table 1 counts (rows ROWS, columns COLS).
PAPER_TABLE1 = np.array([[339, 604, 137], [490, 518, 94], [658, 1049, 141], [253, 1251, 204], [252, 848, 533]])
PAPER_SPEARMAN = 0.22
#: IEMOCAP codes and full names -> Table 1 rows (Excited handled by `merge_excited`).
EMOTION_ALIASES = {
    "sad": "Sad", "sadness": "Sad", "ang": "Anger", "anger": "Anger", "angry": "Anger",
    "fru": "Frustrated", "frustrated": "Frustrated", "frustration": "Frustrated",
    "neu": "Neutral", "neutral": "Neutral", "hap": "Happy", "happy": "Happy", "happiness": "Happy",
    "exc": "Excited", "excited": "Excited", "excitement": "Excited",
}
SENTIMENT_ALIASES = {"negative": "Negative", "neg": "Negative", "neutral": "Neutral", "neu": "Neutral",
                     "positive": "Positive", "pos": "Positive"}
#: The paper's grouping: {Sad, Anger, Frustrated} negative, Neutral 0, Happy positive.
DEFAULT_GROUPS = {"Sad": -1, "Anger": -1, "Frustrated": -1, "Neutral": 0, "Happy": 1}
SENTIMENT_SCORE = {"Negative": -1, "Neutral": 0, "Positive": 1}


class LabelGroupError(Sa2srError):
    """An emotion of the table that params `correlate.groups` gives no score (Spearman needs every row ranked)."""

def canonical(df: pd.DataFrame, merge_excited: bool = True) -> tuple[pd.DataFrame, dict]:
    """Map emotion/sentiment spellings to Table 1 names; rows outside the table are counted, not kept."""
    emo = df["emotion"].astype(str).str.strip().str.lower().map(EMOTION_ALIASES)
    if merge_excited:
        emo = emo.replace({"Excited": "Happy"})
    sent = df["sentiment"].astype(str).str.strip().str.lower().map(SENTIMENT_ALIASES)
    raw_emo = df["emotion"].astype(str).str.strip().str.lower()
    outside = ~emo.isin(ROWS)
    excluded = {
        "emotion_outside_table": {k: int(v) for k, v in raw_emo[outside].value_counts().sort_index().items()},
        "missing_sentiment": int((~outside & sent.isna()).sum()),
    }
    keep = ~outside & sent.notna()
    return pd.DataFrame({"utt_id": df.loc[keep, "utt_id"].values if "utt_id" in df else np.arange(keep.sum()),
                         "emotion": emo[keep].values, "sentiment": sent[keep].values}), excluded


def confusion_table(df: pd.DataFrame) -> pd.DataFrame:
    """Counts with rows ROWS and columns COLS (the paper's Table 1 layout)."""
    t = pd.crosstab(df["emotion"], df["sentiment"]).reindex(index=ROWS, columns=COLS, fill_value=0)
    t.index.name, t.columns.name = "speech_emotion", "text_sentiment"
    return t.astype(int)


def cramers_v(table: np.ndarray) -> float:
    table = np.asarray(table, dtype=float)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    if min(table.shape) < 2:
        return float("nan")
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    return float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))


def spearman_from_table(table: np.ndarray, groups: dict[str, int] = DEFAULT_GROUPS) -> tuple[float, float]:
    """Spearman over utterances between the emotion's group score and the sentiment score, from counts."""
    table = np.asarray(table, dtype=int)
    x = np.repeat(np.repeat([groups[r] for r in ROWS], table.shape[1]), table.reshape(-1))
    y = np.repeat(np.tile([SENTIMENT_SCORE[c] for c in COLS], table.shape[0]), table.reshape(-1))
    if len(x) < 3 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan"), float("nan")
    r, p = stats.spearmanr(x, y)
    return float(r), float(p)


def correlate(df: pd.DataFrame, merge_excited: bool = True, groups: dict[str, int] | None = None) -> tuple[pd.DataFrame, dict]:
    """df with columns emotion, sentiment (utt_id optional) -> (Table 1, results dict)."""
    groups = groups or DEFAULT_GROUPS
    missing = [r for r in ROWS if r not in groups]
    if missing:
        raise LabelGroupError(f"params.yaml: correlate.groups gives no score to the IEMOCAP emotion(s) {missing}; "
                              f"add them to correlate.groups (e.g. {missing[0]}: 0)")
    clean, excluded = canonical(df, merge_excited)
    table = confusion_table(clean)
    r, p = spearman_from_table(table.values, groups)
    return table, {
        "spearman": r, "p_value": p, "cramers_v": cramers_v(table.values), "n": int(table.values.sum()),
        "grouping": groups, "merge_excited_into_happy": merge_excited, "excluded": excluded,
        "counts": {row: table.loc[row].to_dict() for row in ROWS},
    }


def paper_reference(groups: dict[str, int] | None = None) -> dict:
    r, p = spearman_from_table(PAPER_TABLE1, groups or DEFAULT_GROUPS)
    return {"spearman_from_paper_counts": r, "p_value": p, "cramers_v": cramers_v(PAPER_TABLE1),
            "spearman_reported_in_paper_text": PAPER_SPEARMAN}


def plot_table(table: pd.DataFrame, path: str | Path, title: str) -> None:
    """Heatmap of the confusion table with counts and row percentages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sa2sr_core.io import atomic_path

    pct = table.div(table.sum(1).clip(lower=1), axis=0)
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    im = ax.imshow(pct.values, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(COLS)), COLS)
    ax.set_yticks(range(len(ROWS)), ROWS)
    ax.set_xlabel("text sentiment")
    ax.set_ylabel("speech emotion")
    for i in range(len(ROWS)):
        for j in range(len(COLS)):
            ax.text(j, i, f"{table.values[i, j]}\n{pct.values[i, j]:.0%}", ha="center", va="center",
                    color="white" if pct.values[i, j] > 0.5 else "black", fontsize=8)
    fig.colorbar(im, ax=ax, label="fraction of row")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
