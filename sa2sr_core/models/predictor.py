"""The deployed model: one module from features to everything `sa2sr predict` reports.

    feats (B, T, F) --SA2SR encoder--> (B, T', H) --CTC head--> log-probs (B, T', 29)   -> greedy transcript
                                                  --sentiment head--> probs (B, 3)        negative/neutral/positive
                    --emotion encoder--> (B, T', H) --regressor--> (B, 3)                activation/valence/dominance
                                                                   `-> class probs (B, C)    with a categorical head

F, H: 40 LFBE bins and 384 for the BiLSTM; 160 PCM samples per frame and the backbone's width for an SSL encoder.
The emotion encoder is the fine-tuned copy of the SA2SR encoder; with a frozen encoder (Table 4) it *is* the
SA2SR encoder and is run once (`share_encoder`). A frozen SSL encoder shares its backbone the same way, and only
the emotion side's learned layer weights are its own: the backbone's hidden states are computed once and summed
twice. The forward has no data-dependent Python branches, so it
traces (TorchScript) and exports (ONNX) with dynamic batch and time axes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from sa2sr_core.config.models import EmotionModelConfig, SA2SRConfig
from sa2sr_core.models.encoder import build_encoder
from sa2sr_core.models.regressor import EmotionRegressor, split_outputs
from sa2sr_core.models.sa2sr import SA2SR

OUTPUT_NAMES = ("avd", "sentiment_probs", "ctc_log_probs", "out_lengths")
#: The fifth output of a model with a categorical head: P(class) per emotion class, in config order.
CLASS_OUTPUT = "class_probs"


@dataclass
class PredictorConfig:
    sa2sr: SA2SRConfig  # the pre-training network: encoder, CTC head, sentiment head
    emotion: EmotionModelConfig
    share_encoder: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PredictorConfig":
        return cls(SA2SRConfig.from_dict(d["sa2sr"]), EmotionModelConfig.from_dict(d["emotion"]),
                   bool(d.get("share_encoder", False)))


class Predictor(nn.Module):
    def __init__(self, cfg: PredictorConfig):
        super().__init__()
        self.cfg = cfg
        self.sa2sr = SA2SR(cfg.sa2sr)
        self.emotion_encoder = None if cfg.share_encoder else build_encoder(cfg.emotion.encoder)
        self.regressor = EmotionRegressor(cfg.emotion.regressor)
        self.ssl_shared = cfg.share_encoder and cfg.sa2sr.encoder.kind == "ssl"
        if self.ssl_shared:  # the fine-tuned layer weights of a frozen SSL encoder
            self.emotion_layer_weights = nn.Parameter(torch.zeros_like(self.sa2sr.encoder.layer_weights))

    @property
    def classes(self) -> tuple[str, ...]:
        """The emotion classes of a categorical head (empty: none)."""
        return tuple(self.cfg.emotion.regressor.classes)

    @property
    def output_names(self) -> tuple[str, ...]:
        return (*OUTPUT_NAMES, CLASS_OUTPUT) if self.classes else OUTPUT_NAMES

    @property
    def stats_dim(self) -> int:
        """Utterance functionals the regressor reads beside the sequence (0: none; an extra input then)."""
        return self.cfg.emotion.regressor.stats_dim

    @property
    def text_dim(self) -> int:
        """Text features the regressor reads (the text route, docs/text.md; 0: none; an extra input then)."""
        return self.cfg.emotion.regressor.text_dim

    def encode(self, feats: torch.Tensor, lengths: torch.Tensor):
        """feats (B, T, F), lengths (B,) -> the SA2SR encoder's states h (B, T', H), the emotion encoder's h_emotion
        (B, T', H) (the same tensor when shared), out_lengths (B,)."""
        if self.ssl_shared:
            states, out_lengths = self.sa2sr.encoder.states(feats, lengths)  # (L+1, B, T', H), once
            h, h_emotion = self.sa2sr.encoder.mix(states), self.sa2sr.encoder.mix(states, self.emotion_layer_weights)
        else:
            h, out_lengths = self.sa2sr.encoder(feats, lengths)  # (B, T', H)
            h_emotion = h if self.emotion_encoder is None else self.emotion_encoder(feats, lengths)[0]  # same T'
        return h, h_emotion, out_lengths

    def speech(self, h: torch.Tensor, out_lengths: torch.Tensor):
        """The SA2SR heads: sentiment_probs (B, 3), ctc_log_probs (B, T', 29)."""
        log_probs = F.log_softmax(self.sa2sr.ctc_head(h), dim=-1)  # (B, T', 29)
        sentiment = F.softmax(self.sa2sr.sentiment_head(h, out_lengths), dim=-1)  # (B, 3)
        return sentiment, log_probs

    def emotion(self, h_emotion: torch.Tensor, out_lengths: torch.Tensor, stats: torch.Tensor | None = None,
                text: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """The regressor: (avd (B, 3),) or (avd, class_probs (B, C)) with a categorical head."""
        out = self.regressor(h_emotion, out_lengths, stats, text)  # (B, 3), or (B, 3 + C) with a categorical head
        if self.classes:
            avd, logits = split_outputs(out)
            return avd, F.softmax(logits, dim=-1)
        return (out,)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, stats: torch.Tensor | None = None,
                text: torch.Tensor | None = None):
        """feats (B, T, F), lengths (B,)[, stats (B, K) when stats_dim > 0][, text (B, E) when text_dim > 0] -> avd
        (B, 3), sentiment_probs (B, 3), ctc_log_probs (B, T', 29), out_lengths (B,)[, class_probs (B, C) with a
        categorical head]. The text features do not change the transcript: `sa2sr predict` runs encode and speech
        once, reads the transcript, then emotion with its text features (an exported graph: two passes)."""
        h, h_emotion, out_lengths = self.encode(feats, lengths)
        sentiment, log_probs = self.speech(h, out_lengths)
        avd, *cls = self.emotion(h_emotion, out_lengths, stats, text)
        return (avd, sentiment, log_probs, out_lengths, *cls)

    def min_frames(self) -> int:
        """Fewest input frames that give the regressor one valid step."""
        return self.cfg.emotion.min_frames()
