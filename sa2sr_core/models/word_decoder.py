"""Words from the CTC posteriors: the recogniser's greedy transcript snapped to a lexicon under a word bigram LM,
both from the pre-training corpus's training transcripts (the words the recogniser was trained on). The `asr`
source of the text route reads these (params `finetune.text.decoder: lexicon`, docs/text.md).

    1. the greedy path's space frames cut the utterance into word segments [s, e)
    2. each segment's candidates: the `nearest` lexicon words nearest its greedy spelling (edit distance; ties go
       to the more frequent word), each scored by its CTC log-likelihood over the segment's frames,
       log P(w | x[s:e]); the `beam` best by that score go on
    3. a Viterbi pass over the segments picks the word sequence maximising
       sum_i log P(w_i | x[s_i:e_i]) + lm_weight * log P_LM(w_i | w_{i-1})    (with <s> ... </s>)

The vocabulary is closed: a greedy word outside the lexicon is kept only where no lexicon word fits its frames
(an unknown word gets the LM's unseen-word probability); kept as a candidate beside the lexicon's, its own best
path would win too often (measured on the demo: WER 0.27 against 0.22). Words the greedy path runs together stay one segment: this decoder
substitutes words, it does not split or merge them (a full lexicon beam search would)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

from sa2sr_core.errors import Sa2srError
from sa2sr_core.io import atomic_path
from sa2sr_core.models.sa2sr import greedy_decode
from sa2sr_core.vocab import ctc_min_frames, decode, encode, normalize_for_ctc

BOS, EOS = "<s>", "</s>"
SPACE = 1  # the CTC vocabulary's space (sa2sr_core.names.CHARS)


class WordLMError(Sa2srError):
    pass


@dataclass
class WordLM:
    """A word bigram LM with add-alpha smoothing towards the add-one unigram:
    P(w | p) = (c(p, w) + alpha * V * P_1(w)) / (c(p) + alpha * V),  P_1(w) = (c(w) + 1) / (N + V + 1),
    V the lexicon size (+ </s>), N the word count; an unknown word has c(w) = 0."""

    unigrams: dict[str, int]  # word -> count (</s> included; <s> as a context only)
    bigrams: dict[tuple[str, str], int]  # (previous word or <s>, word or </s>) -> count
    alpha: float = 0.1

    def __post_init__(self):
        self.contexts = Counter()
        for (p, _), c in self.bigrams.items():
            self.contexts[p] += c
        self.words = sorted((w for w in self.unigrams if w != EOS), key=lambda w: (-self.unigrams[w], w))
        self.total = sum(self.unigrams.values())
        self.size = len(self.unigrams)

    @classmethod
    def from_transcripts(cls, texts, alpha: float = 0.1) -> "WordLM":
        """Counts over transcripts (normalised for CTC: lower case, the 29 symbols; others are skipped)."""
        bi = Counter()
        for t in texts:
            norm = normalize_for_ctc(t) if t is not None else None
            if norm:
                words = [BOS, *norm.split(), EOS]
                bi.update(zip(words, words[1:]))
        if not bi:
            raise WordLMError("no transcript to build a word LM from")
        return cls.from_bigrams(dict(bi), alpha)

    @classmethod
    def from_bigrams(cls, bigrams: dict[tuple[str, str], int], alpha: float = 0.1) -> "WordLM":
        """The LM of bigram counts: a word's count is that of the bigrams ending in it (every word has one before
        it, <s> at the start)."""
        uni = Counter()
        for (_, w), c in bigrams.items():
            uni[w] += c
        return cls(dict(uni), bigrams, alpha)

    def unigram(self, w: str) -> float:
        return (self.unigrams.get(w, 0) + 1) / (self.total + self.size + 1)

    def logp(self, prev: str, w: str) -> float:
        a = self.alpha * self.size
        return math.log((self.bigrams.get((prev, w), 0) + a * self.unigram(w)) / (self.contexts.get(prev, 0) + a))

    # ------------------------------------------------------------------ a file (a model directory carries one)
    def save(self, path) -> None:
        prev, word, count = zip(*((p, w, c) for (p, w), c in sorted(self.bigrams.items())))
        table = pa.table({"prev": list(prev), "word": list(word), "count": np.asarray(count, np.int64)})
        with atomic_path(path) as tmp:
            pq.write_table(table.replace_schema_metadata({"alpha": str(self.alpha)}), tmp)

    @classmethod
    def load(cls, path) -> "WordLM":
        path = Path(path)
        if not path.is_file():
            raise WordLMError(f"{path} is missing: the text route's lexicon decoder reads its word LM there (re-run "
                              f"`dvc repro`, or copy the whole model directory)")
        try:
            table = pq.read_table(path)
            cols = [table.column(c).to_pylist() for c in ("prev", "word", "count")]
        except Exception as e:  # noqa: BLE001 - a damaged or foreign file, said in one line
            raise WordLMError(f"{path} cannot be read as a word LM ({e.__class__.__name__}: {e})") from None
        alpha = float((table.schema.metadata or {}).get(b"alpha", b"0.1"))
        return cls.from_bigrams({(p, w): int(c) for p, w, c in zip(*cols)}, alpha)


def word_segments(log_probs: torch.Tensor) -> list[tuple[int, int, str]]:
    """(T', V) log-probabilities -> [(start, end, greedy word)] of the greedy path's words, cut at its space
    frames (a segment whose frames hold no character is dropped)."""
    best = log_probs.argmax(-1).tolist()
    spans, start = [], None
    for i, c in enumerate([*best, SPACE]):
        if c == SPACE and start is not None:
            spans.append((start, i))
            start = None
        elif c != SPACE and start is None:
            start = i
    out = []
    for s, e in spans:
        word = decode(greedy_decode(log_probs[None, s:e], torch.tensor([e - s]))[0])  # the span's best path
        if word:
            out.append((s, e, word))
    return out


class LexiconDecoder:
    """The lexicon + bigram decoder of one word LM (see the module docstring); `decode(log_probs)` -> text."""

    def __init__(self, lm: WordLM, lm_weight: float = 1.0, nearest: int = 64, beam: int = 16):
        from rapidfuzz import process  # noqa: F401 - checked here, used in _nearest
        self.lm, self.lm_weight, self.k, self.beam = lm, lm_weight, nearest, beam
        self._near: dict[str, list[str]] = {}
        self._targets: dict[str, torch.Tensor] = {}

    def _nearest(self, word: str) -> list[str]:
        """The k lexicon words nearest `word` by edit distance, from a lexicon ordered by frequency (cached: a
        spelling is searched once)."""
        if word not in self._near:
            from rapidfuzz import process
            from rapidfuzz.distance import Levenshtein
            # no distance cutoff: one at half the spelling's length lost words a garbled spelling still held
            # (demo Development WER 0.222 -> 0.234); a distinct spelling costs ~16 ms against 87 k words
            found = process.extract(word, self.lm.words, scorer=Levenshtein.distance, limit=self.k)
            self._near[word] = [w for w, _, _ in found]
        return self._near[word]

    def _ids(self, word: str) -> torch.Tensor:
        if word not in self._targets:
            self._targets[word] = torch.tensor(encode(word))
        return self._targets[word]

    def candidates(self, log_probs: torch.Tensor) -> list[tuple[list[str], torch.Tensor]]:
        """[(candidate words, their CTC log-likelihoods over the segment's frames)] per word segment."""
        segs = word_segments(log_probs)
        words, spans = [], []
        for s, e, g in segs:
            cands = [w for w in self._nearest(g) if ctc_min_frames(self._ids(w).tolist()) <= e - s]
            if not cands:
                cands.append(g)  # no lexicon word fits: the greedy spelling (it fits its own frames) stays
            words.append(cands)
            spans.append((s, e))
        if not segs:
            return []
        n = [len(c) for c in words]
        t_max = max(e - s for s, e in spans)
        x = log_probs.new_zeros(t_max, sum(n), log_probs.shape[-1])  # (T, N, V): each segment once per candidate
        col = 0
        for (s, e), k in zip(spans, n):
            x[: e - s, col: col + k] = log_probs[s:e, None, :]
            col += k
        targets = [self._ids(w) for c in words for w in c]
        loss = F.ctc_loss(x, torch.cat(targets), torch.tensor([e - s for (s, e), k in zip(spans, n) for _ in range(k)]),
                          torch.tensor([len(t) for t in targets]), blank=0, reduction="none")  # (N,) -log P(w | x)
        out = []
        for cands, sc in zip(words, (-loss.float()).split(n)):
            top = torch.topk(sc, min(self.beam, len(cands))).indices.tolist()
            out.append(([cands[i] for i in top], sc[top]))
        return out

    def decode(self, log_probs: torch.Tensor) -> str:
        """(T', V) CTC log-probabilities of one utterance -> its transcript ("" when the greedy path has no word)."""
        segs = self.candidates(log_probs.detach().float().cpu())
        if not segs:
            return ""
        lm, b = self.lm, self.lm_weight
        beams = {BOS: (0.0, [])}  # last word -> (best score, words)
        for cands, scores in segs:
            nxt = {}
            for w, sc in zip(cands, scores.tolist()):
                prev, (score, path) = max(beams.items(), key=lambda kv: kv[1][0] + b * lm.logp(kv[0], w))
                total = score + b * lm.logp(prev, w) + sc
                if w not in nxt or total > nxt[w][0]:
                    nxt[w] = (total, [*path, w])
            beams = nxt
        _, (_, words) = max(beams.items(), key=lambda kv: kv[1][0] + b * lm.logp(kv[0], EOS))
        return " ".join(words)

    def decode_batch(self, log_probs: torch.Tensor, lengths) -> list[str]:
        """(B, T', V), (B,) on any device -> B transcripts (moved to the CPU once, for the whole batch)."""
        log_probs = log_probs.detach().float().cpu()
        return [self.decode(log_probs[i, :n]) for i, n in enumerate(torch.as_tensor(lengths).tolist())]
