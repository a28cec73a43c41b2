"""Text -> sentiment pseudo-labels (negative / neutral / positive) for SA2SR pre-training (paper §3.1, §4).

Primary labeller: a RoBERTa model fine-tuned on Twitter sentiment, loaded through the real transformers
path (`AutoTokenizer` / `AutoModelForSequenceClassification`, never `trust_remote_code`). Declared fallback:
VADER, used only when the model cannot be loaded and `fallback: vader`, and always recorded as such.
"""

from __future__ import annotations

import logging
import re

import numpy as np

from sa2sr_core.config.labeler import LabelerConfig
from sa2sr_core.errors import Sa2srError
from sa2sr_core.hub import local_only
from sa2sr_core.names import SENTIMENT_CLASSES

log = logging.getLogger(__name__)


class LabelMappingError(Sa2srError):
    """A sentiment model whose output labels cannot be mapped to negative/neutral/positive."""


def class_order(id2label: dict) -> list[int]:
    """Model output index for each of SENTIMENT_CLASSES, from the model config's id2label.

    Accepts names negative/neutral/positive (any case, any order) and the older LABEL_0/1/2 convention,
    whose index order is negative, neutral, positive. Anything else is an error naming the labels found.
    """
    names = {int(i): str(n).strip().lower() for i, n in id2label.items()}
    if sorted(names.values()) == sorted(SENTIMENT_CLASSES):
        inv = {n: i for i, n in names.items()}
        return [inv[c] for c in SENTIMENT_CLASSES]
    if sorted(names.values()) == ["label_0", "label_1", "label_2"]:
        inv = {n: i for i, n in names.items()}
        return [inv["label_0"], inv["label_1"], inv["label_2"]]
    raise LabelMappingError(
        f"cannot map the model's labels {sorted(id2label.values())} to negative/neutral/positive: expected "
        f"names negative/neutral/positive or LABEL_0/LABEL_1/LABEL_2 (index order negative, neutral, positive)")


_UPPER = re.compile(r"^[^a-z]*[A-Z][^a-z]*$")


def prepare_text(text: str, sentence_case: bool) -> str:
    """Whitespace-squeezed text; an ALL-CAPS transcript becomes sentence case (the labeller saw tweets, where
    capitals read as shouting), other text is left as written."""
    text = " ".join(str(text).split())
    if sentence_case and _UPPER.match(text):
        text = text.lower()
        text = text[:1].upper() + text[1:]
        text = re.sub(r"\bi\b", "I", text)
    return text


class RobertaLabeler:
    """Batched inference with a sequence-classification model: length-sorted batches under a token budget."""

    def __init__(self, cfg: LabelerConfig):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.cfg = cfg
        self.name = f"roberta:{cfg.model}"
        local = local_only(cfg.model)
        self.tokenizer = AutoTokenizer.from_pretrained(cfg.model, trust_remote_code=False, local_files_only=local)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            cfg.model, trust_remote_code=False, local_files_only=local)
        self.order = class_order(self.model.config.id2label)
        dev = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(dev)
        self.model.to(self.device).eval()

    def predict(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """texts -> (probabilities (N, 3) in SENTIMENT_CLASSES order, truncated flags (N,))."""
        probs, truncated, _ = self.run(texts)
        return probs, truncated

    def embed(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """texts -> (probabilities (N, 3), the last hidden state mean-pooled over each text's tokens (N, H))."""
        probs, _, pooled = self.run(texts, hidden=True)
        return probs, pooled

    def run(self, texts: list[str], hidden: bool = False):
        """(probabilities (N, 3), truncated flags (N,), pooled last hidden state (N, H) or None): one pass over
        length-sorted batches under the token budget."""
        import torch

        enc = self.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
        lengths = np.array([len(x) for x in enc])
        truncated = lengths > self.cfg.max_length
        limit = self.cfg.max_length
        ids = [x if len(x) <= limit else x[: limit - 1] + [x[-1]] for x in enc]  # keep </s>
        order = np.argsort([len(x) for x in ids], kind="stable")[::-1]  # longest first: OOM shows at once
        probs = np.zeros((len(texts), len(SENTIMENT_CLASSES)), np.float32)
        pooled = np.zeros((len(texts), self.model.config.hidden_size), np.float32) if hidden else None
        pad = self.tokenizer.pad_token_id
        i = 0
        with torch.inference_mode():
            while i < len(order):
                width = len(ids[order[i]])
                n = max(1, self.cfg.max_tokens_per_batch // max(width, 1))
                batch = order[i: i + n]
                x = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for r, j in enumerate(batch):
                    x[r, : len(ids[j])] = torch.tensor(ids[j])
                    mask[r, : len(ids[j])] = 1
                out = self.model(input_ids=x.to(self.device), attention_mask=mask.to(self.device),
                                 output_hidden_states=hidden)
                p = torch.softmax(out.logits.float(), dim=-1)[:, self.order]  # (B, 3) in SENTIMENT_CLASSES order
                probs[batch] = p.cpu().numpy()
                if hidden:
                    h, m = out.hidden_states[-1].float(), mask.to(self.device).unsqueeze(-1).float()  # (B, L, H), (B, L, 1)
                    pooled[batch] = ((h * m).sum(1) / m.sum(1).clamp_min(1.0)).cpu().numpy()  # (B, H)
                i += n
        return probs, truncated, pooled


class VaderLabeler:
    """VADER fallback: label from the compound score with thresholds ±0.05. Its 'probabilities' are
    softmax(10 · [−c, 0.05, c]) of the compound score c, so argmax agrees with the thresholds."""

    name = "vader"

    def __init__(self, cfg: LabelerConfig):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.cfg = cfg
        self.analyzer = SentimentIntensityAnalyzer()

    def predict(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        c = np.array([self.analyzer.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)
        logits = 10.0 * np.stack([-c, np.full_like(c, 0.05), c], axis=1)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32), np.zeros(len(texts), bool)


def load_labeler(cfg: LabelerConfig):
    """The RoBERTa labeller, or, if it cannot be loaded and fallback is vader, VADER (said loudly)."""
    try:
        return RobertaLabeler(cfg)
    except LabelMappingError:
        raise
    except Exception as e:  # OSError / HF hub errors: model not on disk and no hub access
        if cfg.fallback == "none":
            raise RuntimeError(
                f"could not load the sentiment model {cfg.model!r} ({e.__class__.__name__}: {e}). Provide it as a "
                f"local directory (labeler.model: /path/to/twitter-roberta-base-sentiment-latest, saved with "
                f"save_pretrained or `huggingface-cli download`), or run where the model hub is reachable, or set "
                f"labeler.fallback: vader") from None
        banner = "=" * 78
        log.warning("%s\nSENTIMENT MODEL %r COULD NOT BE LOADED (%s).\nFALLING BACK TO VADER: labels are "
                    "VADER's, not RoBERTa's, and data/summaries/labels_<corpus>.json says so.\n%s", banner, cfg.model,
                    e.__class__.__name__, banner)
        return VaderLabeler(cfg)


def label_texts(labeler, texts: list[str | None], sentence_case: bool = True) -> tuple[dict, dict]:
    """Label `texts`; empty ones get no label. Returns (columns dict, counts of unusual input)."""
    clean = [None if t is None or (isinstance(t, float) and np.isnan(t)) or not str(t).strip()
             else prepare_text(t, sentence_case) for t in texts]
    idx = [i for i, t in enumerate(clean) if t is not None]
    probs = np.full((len(texts), 3), np.nan, np.float32)
    status = np.array(["empty"] * len(texts), dtype=object)
    truncated = np.zeros(len(texts), bool)
    if idx:
        p, tr = labeler.predict([clean[i] for i in idx])
        probs[idx] = p
        truncated[idx] = tr
        status[idx] = "ok"
    status[truncated] = "truncated"
    sentiment = [SENTIMENT_CLASSES[int(np.argmax(p))] if s != "empty" else None for p, s in zip(probs, status)]
    non_ascii = sum(1 for t in clean if t is not None and not t.isascii())
    cols = {"sentiment": sentiment, "p_negative": probs[:, 0], "p_neutral": probs[:, 1], "p_positive": probs[:, 2],
            "status": list(status)}
    counts = {"empty": int((status == "empty").sum()), "truncated": int(truncated.sum()), "non_ascii": non_ascii}
    return cols, counts
