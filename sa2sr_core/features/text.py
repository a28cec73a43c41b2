"""Text features beside the sound (params `finetune.text`, docs/text.md): the table stage text_features writes, and
the vector each utterance gets from it.

    data/text/features.parquet: utt_id, split, source, text_model, transcript (the text read; null: none), reference (the corpus's own
    transcript, for scoring an ASR source), has_text, p_negative, p_neutral, p_positive[, hidden: list<float32>]

The vector of an utterance is [p_negative, p_neutral, p_positive, has_text, hidden...]. An utterance without a
transcript, or with an empty one, gets has_text 0 and zeros elsewhere: a defined "no text" input that the model
(standardised on Train) tells apart from neutral text (p_neutral high, has_text 1), never a silent stand-in."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sa2sr_core.errors import Sa2srError
from sa2sr_core.features.shards import shard_files
from sa2sr_core.names import SENTIMENT_CLASSES

PROB_COLUMNS = tuple(f"p_{c}" for c in SENTIMENT_CLASSES)
#: The named part of every text vector (the pooled hidden state, when asked for, follows them).
TEXT_FEATURES = (*PROB_COLUMNS, "has_text")


class TextFeaturesError(Sa2srError):
    pass


def clean_transcript(text) -> str | None:
    """A transcript as read, or None when there is none (missing, NaN, only blanks)."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return None
    text = " ".join(str(text).split())
    return text or None


def text_vectors(probs: np.ndarray, has_text: np.ndarray, hidden: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) probabilities, (N,) bool[, (N, H) pooled hidden] -> (N, 4 [+ H]) float32; rows without text are all
    zero (has_text 0), whatever the inputs hold there."""
    parts = [np.nan_to_num(probs.astype(np.float32)), has_text.astype(np.float32)[:, None]]
    if hidden is not None:
        parts.append(np.nan_to_num(hidden.astype(np.float32)))
    x = np.concatenate(parts, axis=1)
    x[~has_text.astype(bool)] = 0.0
    return x


@dataclass
class TextFeatures:
    """The text vector of every utterance of the fine-tuning corpus, by utt_id."""

    path: Path
    ids: list[str]
    x: np.ndarray  # (N, E) float32
    names: tuple[str, ...]  # E feature names
    source: str
    text_model: str | None = None  # the labeller that made them (roberta:<model> | vader)

    @property
    def dim(self) -> int:
        return self.x.shape[1]

    def vectors(self, ids) -> np.ndarray:
        """(len(ids), E) in the order of `ids`; an utterance the table lacks is a named error (the table was made
        for other shards: re-run `dvc repro text_features`)."""
        row = {u: i for i, u in enumerate(self.ids)}
        missing = [u for u in ids if u not in row]
        if missing:
            raise TextFeaturesError(f"{self.path}: no text features for {len(missing)} utterance(s) of the shards "
                                    f"(first: {missing[0]!r}); it was made for other shards: run `dvc repro "
                                    f"text_features`")
        return self.x[[row[u] for u in ids]] if len(ids) else np.zeros((0, self.dim), np.float32)

    def lookup(self) -> dict[str, np.ndarray]:
        return {u: self.x[i] for i, u in enumerate(self.ids)}


def read_text_features(path: str | Path) -> TextFeatures:
    path = Path(path)
    if not path.is_file():
        raise TextFeaturesError(f"{path} not found: run `dvc repro text_features` (finetune.text.source is not none)")
    table = pq.read_table(path)
    cols = table.column_names
    missing = [c for c in ("utt_id", "has_text", *PROB_COLUMNS) if c not in cols]
    if missing:
        raise TextFeaturesError(f"{path}: columns {missing} missing (not written by stage text_features)")
    probs = np.stack([table.column(c).to_numpy(zero_copy_only=False) for c in PROB_COLUMNS], axis=1) \
        if table.num_rows else np.zeros((0, 3))
    has = table.column("has_text").to_numpy(zero_copy_only=False).astype(bool)
    hidden = None
    names = TEXT_FEATURES
    if "hidden" in cols:
        hidden = np.array(table.column("hidden").to_pylist(), np.float32).reshape(table.num_rows, -1)
        names = (*TEXT_FEATURES, *(f"hidden_{i}" for i in range(hidden.shape[1])))
    first = {c: table.column(c)[0].as_py() if c in cols and table.num_rows else None for c in ("source", "text_model")}
    return TextFeatures(path, table.column("utt_id").to_pylist(), text_vectors(probs, has, hidden), names,
                        first["source"] or "none", first["text_model"])


def split_transcripts(split_dir) -> tuple[list[str], list[str | None]]:
    """(utt_ids, the corpus's transcripts, None where there is none) of a split's shards."""
    ids, texts = [], []
    for path in shard_files(split_dir):
        names = pq.read_schema(path).names
        t = pq.read_table(path, columns=["utt_id"] + (["text"] if "text" in names else []))
        ids += t.column("utt_id").to_pylist()
        texts += [clean_transcript(x) for x in t.column("text").to_pylist()] if "text" in names else [None] * t.num_rows
    return ids, texts
