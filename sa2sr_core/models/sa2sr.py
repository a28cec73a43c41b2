"""SA2SR pre-training network (paper §3.2, Fig. 1): acoustic encoder + CTC head + sentiment head.

    L = L_ASR + lambda * L_sentiment    (eq. 1; lambda is applied by the training loop, where it is visible)

L_ASR is CTC summed over each utterance and averaged over the batch (the per-utterance loss of Keras'
ctc_batch_cost, the scale at which the paper's lambda = 200 balances the two losses); L_sentiment is the
cross-entropy against the text-sentiment pseudo-label, averaged over the batch.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sa2sr_core.config.models import SA2SRConfig
from sa2sr_core.models.bilstm import BiLSTM
from sa2sr_core.models.encoder import build_encoder


class SentimentHead(nn.Module):
    """BiLSTM summariser over the encoder states; its final states (both directions) -> linear -> 3 logits."""

    def __init__(self, in_dim: int, hidden: int, n_classes: int):
        super().__init__()
        self.hidden = hidden
        self.rnn = BiLSTM(in_dim, hidden, layers=1)
        self.out = nn.Linear(2 * hidden, n_classes)

    def forward(self, h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        s = self.rnn(h, lengths)  # (B, T', 2*hidden)
        B = s.shape[0]
        last = s[torch.arange(B), lengths.to(s.device) - 1, : self.hidden]  # forward state after the last step
        first = s[:, 0, self.hidden:]  # backward state after reading back to the first step
        return self.out(torch.cat([last, first], dim=-1))  # (B, n_classes)


class SA2SR(nn.Module):
    def __init__(self, cfg: SA2SRConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = build_encoder(cfg.encoder)
        self.ctc_head = nn.Linear(cfg.encoder.output_dim, cfg.vocab_size)
        self.sentiment_head = SentimentHead(cfg.encoder.output_dim, cfg.summarizer_hidden, cfg.num_sentiments)

    def forward(self, feats, lengths, targets=None, target_lengths=None, sentiment=None):
        """feats (B, T, 40), lengths (B,) [, targets (B, S), target_lengths (B,), sentiment (B,)]
        -> (outputs {ctc_log_probs (B, T', V), out_lengths (B,), sentiment_logits (B, 3)}, losses {ctc, sentiment})."""
        h, out_lengths = self.encoder(feats, lengths)  # (B, T', 384)
        log_probs = F.log_softmax(self.ctc_head(h).float(), dim=-1)  # (B, T', 29)
        sent_logits = self.sentiment_head(h, out_lengths)  # (B, 3)
        outputs = {"ctc_log_probs": log_probs, "out_lengths": out_lengths, "sentiment_logits": sent_logits}
        losses = {}
        if targets is not None:
            ctc = F.ctc_loss(log_probs.transpose(0, 1), targets, out_lengths, target_lengths, blank=0,
                             reduction="none", zero_infinity=True)  # (B,) summed over each utterance
            losses["ctc"] = ctc.mean()
        if sentiment is not None:
            losses["sentiment"] = F.cross_entropy(sent_logits.float(), sentiment)
        return outputs, losses


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Best path: argmax per step, collapse repeats, drop blanks. (B, T', V) -> token id lists."""
    best = log_probs.argmax(-1).cpu()  # (B, T')
    out = []
    for b, n in enumerate(lengths.tolist()):
        seq, prev = [], -1
        for i in best[b, :n].tolist():
            if i != prev and i != 0:
                seq.append(i)
            prev = i
        out.append(seq)
    return out
