"""The one place that turns an EncoderConfig into its module: the paper's BiLSTM on LFBE, or a self-supervised
backbone on the waveform (transformers is imported only for the latter)."""

from __future__ import annotations

import torch.nn as nn

from sa2sr_core.config.models import EncoderConfig
from sa2sr_core.models.bilstm import AcousticEncoder


def build_encoder(cfg: EncoderConfig) -> nn.Module:
    """EncoderConfig -> a module mapping (feats (B, T, input_dim), lengths (B,)) to (encodings (B, T', output_dim),
    out_lengths (B,)), with T' = cfg.output_length(T)."""
    if cfg.kind == "ssl":
        from sa2sr_core.models.ssl import SSLEncoder

        return SSLEncoder(cfg)
    return AcousticEncoder(cfg)
