"""The text route at inference (docs/text.md): a model fine-tuned with text features reads the transcript of what
it scores — its own CTC transcript by default (greedy, or through the lexicon and word LM it was trained with:
its model directory's word_lm.parquet), or the user's (`sa2sr predict --transcripts T.csv`, columns path,
transcript) — through the text model it was trained with, named in its model directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sa2sr_core.config.labeler import LabelerConfig
from sa2sr_core.config.text import LM_FILE
from sa2sr_core.errors import Sa2srError
from sa2sr_core.features.text import clean_transcript, text_vectors
from sa2sr_core.models.word_decoder import LexiconDecoder, WordLM, WordLMError
from sa2sr_core.sentiment.labeler import RobertaLabeler, VaderLabeler
from sa2sr_core.sentiment.text_features import embed_texts

#: What the `text_input` column says: which transcript the text route read.
OWN, USER = "model", "user"


class TextRouteError(Sa2srError):
    pass


class TextRoute:
    """A packaged model's text features: its text model (the one it was trained with: RoBERTa from the saved
    `labeler.model`, or VADER), loaded once."""

    def __init__(self, text: dict, model_dir=""):
        self.info = text
        self.dim = len(text.get("features", []))
        name, cfg = text.get("text_model"), LabelerConfig(**(text.get("labeler") or {}))
        self.sentence_case = cfg.sentence_case
        self.hidden = bool(text.get("hidden"))
        if name == "vader":
            self.labeler = VaderLabeler(cfg)
        elif name and name.startswith("roberta:"):
            try:
                self.labeler = RobertaLabeler(LabelerConfig(**{**(text.get("labeler") or {}), "model": name[8:],
                                                               "device": "cpu"}))
            except Exception as e:  # noqa: BLE001 - the one line that says what is missing
                raise TextRouteError(f"{model_dir}: this model reads text through the text model {name[8:]!r}, which "
                                     f"cannot be loaded ({e.__class__.__name__}); put it at that path (save_pretrained)"
                                     f" or run where the hub is reachable") from None
        else:
            raise TextRouteError(f"{model_dir}: config.json names no text model for its text route ({name!r}): "
                                 f"re-run `dvc repro` to package it again")
        dec = text.get("decoder") or {"kind": "greedy"}
        self.decoder = None
        if dec.get("kind") == "lexicon":
            try:
                lm = WordLM.load(Path(model_dir) / LM_FILE)
            except WordLMError as e:
                raise TextRouteError(str(e)) from None
            self.decoder = LexiconDecoder(lm, dec["lm_weight"], dec["nearest"], dec["beam"])

    def own_transcripts(self, log_probs, lengths, greedy: list[str]) -> list[str]:
        """The model's own transcripts as its text route was trained on them: the lexicon decoder's of the CTC
        posteriors (B, T', V), or the greedy ones."""
        return greedy if self.decoder is None else self.decoder.decode_batch(log_probs, lengths)

    def features(self, texts: list[str | None]) -> np.ndarray:
        """(N, E) text vectors of transcripts (None / empty: the no-text input)."""
        probs, has, pooled = embed_texts(self.labeler, texts, self.sentence_case, self.hidden)
        x = text_vectors(probs, has, pooled)
        if x.shape[1] != self.dim:
            raise TextRouteError(f"the text model gives {x.shape[1]} text features, the model reads {self.dim}")
        return x


def read_transcripts(path, files: list[Path]) -> dict[str, str | None]:
    """{file as scored: its transcript} from a CSV with columns path and transcript. Every scored file needs a row
    and every row a scored file (by resolved path): a missing or extra row is a named error, never a silent guess."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype={"path": str}, keep_default_na=False, na_values=[])
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise TextRouteError(f"{path}: cannot be read as CSV ({e.__class__.__name__}: {e})") from None
    missing = [c for c in ("path", "transcript") if c not in df.columns]
    if missing:
        raise TextRouteError(f"{path}: columns {missing} missing (expected path, transcript)")
    rows = {}
    for p, t in zip(df["path"], df["transcript"]):
        key = str(Path(p).expanduser().resolve())
        if key in rows:
            raise TextRouteError(f"{path}: {p} has two rows")
        rows[key] = clean_transcript(t)
    wanted = {str(Path(f).resolve()): str(f) for f in files}
    lacking = [f for k, f in wanted.items() if k not in rows]
    extra = [k for k in rows if k not in wanted]
    if lacking:
        raise TextRouteError(f"{path}: no row for {len(lacking)} file(s) being scored (first: {lacking[0]})")
    if extra:
        raise TextRouteError(f"{path}: {len(extra)} row(s) name no file being scored (first: {extra[0]})")
    return {f: rows[k] for k, f in wanted.items()}
