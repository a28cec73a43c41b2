"""The deployed model: one module from LFBE features to everything `sa2sr predict` reports.

    feats (B, T, 40) --SA2SR encoder--> (B, T', 384) --CTC head--> log-probs (B, T', 29)   -> greedy transcript
                                                     --sentiment head--> probs (B, 3)        negative/neutral/positive
                     --emotion encoder--> (B, T', 384) --regressor--> (B, 3)                activation/valence/dominance

The emotion encoder is the fine-tuned copy of the SA2SR encoder; with a frozen encoder (Table 4) it *is* the
SA2SR encoder and is run once (`share_encoder`). The forward has no data-dependent Python branches, so it
traces (TorchScript) and exports (ONNX) with dynamic batch and time axes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from sa2sr_core.models.encoders import build_encoder
from sa2sr_core.models.regressor import EmotionModelConfig, EmotionRegressor
from sa2sr_core.models.sa2sr import SA2SR, SA2SRConfig

OUTPUT_NAMES = ("avd", "sentiment_probs", "ctc_log_probs", "out_lengths")


@dataclass
class PredictorConfig:
    asr: SA2SRConfig
    emotion: EmotionModelConfig
    share_encoder: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PredictorConfig":
        return cls(SA2SRConfig.from_dict(d["asr"]), EmotionModelConfig.from_dict(d["emotion"]),
                   bool(d.get("share_encoder", False)))


class Predictor(nn.Module):
    def __init__(self, cfg: PredictorConfig):
        super().__init__()
        self.cfg = cfg
        self.asr = SA2SR(cfg.asr)
        self.emotion_encoder = None if cfg.share_encoder else build_encoder(cfg.emotion.encoder)
        self.regressor = EmotionRegressor(cfg.emotion.regressor)

    @property
    def stats_dim(self) -> int:
        """Utterance functionals the regressor reads beside the sequence (0: none; an extra input then)."""
        return self.cfg.emotion.regressor.stats_dim

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, stats: torch.Tensor | None = None):
        """feats (B, T, 40), lengths (B,)[, stats (B, K) when stats_dim > 0] -> avd (B, 3), sentiment_probs (B, 3),
        ctc_log_probs (B, T', 29), out_lengths (B,)."""
        h, out_lengths = self.asr.encoder(feats, lengths)  # (B, T', 384)
        log_probs = F.log_softmax(self.asr.ctc_head(h), dim=-1)  # (B, T', 29)
        sentiment = F.softmax(self.asr.sentiment_head(h, out_lengths), dim=-1)  # (B, 3)
        if self.emotion_encoder is not None:
            h, _ = self.emotion_encoder(feats, lengths)  # (B, T', 384), same T' arithmetic
        avd = self.regressor(h, out_lengths, stats)  # (B, 3)
        return avd, sentiment, log_probs, out_lengths

    def min_frames(self) -> int:
        """Fewest input frames that give the regressor one valid step."""
        return self.cfg.emotion.min_frames()
