"""Self-supervised encoder (wav2vec 2.0 / HuBERT / WavLM through transformers' Auto classes) under the SA2SR heads.

    feats (B, T, 160)   10 ms frames of 16 kHz PCM (feature shards of kind "waveform"), lengths (B,) in frames
    -> waveform (B, T*160), zero mean / unit variance per utterance over its valid samples (normalize_waveform)
    -> backbone: CNN feature encoder (20 ms steps) -> transformer, L layers -> hidden states h_0 .. h_L (B, T', H)
    -> softmax(w)-weighted sum over the L + 1 states (the SUPERB protocol; w learned, starts uniform) -> (B, T', H)

T' = the CNN arithmetic on T*160 samples (config `conv_kernel`, `conv_stride`: 49 steps per second for the standard
stack). The weighted sum feeds the CTC head, the sentiment head and, after fine-tuning, the emotion regressor.
The hidden states are taken by forward hooks on the transformer layers, so a layer skipped by LayerDrop in a
training step passes its input on (it computed the identity), and the sum always has L + 1 terms.

The backbone is built from the transformers config stored in `EncoderConfig.ssl.backbone` (sa2sr_core.models.backbones
resolves it; a saved model rebuilds without the hub); pre-trained weights are copied in once, at the start of
pre-training (`load_pretrained_backbone`).
"""

from __future__ import annotations

import functools
import threading
import warnings

import torch
import torch.nn as nn

from sa2sr_core.config.models import EncoderConfig, SSLConfig


def backbone_config(ssl: SSLConfig):
    """The transformers config to build the backbone from, with this run's training options."""
    from transformers import AutoConfig

    d = dict(ssl.backbone)
    config = AutoConfig.for_model(d.pop("model_type"), **d)
    config.layerdrop = ssl.layerdrop
    config.mask_time_prob = ssl.mask_time_prob
    config.apply_spec_augment = ssl.mask_time_prob > 0
    return config


class SSLEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        from transformers import AutoModel

        if cfg.kind != "ssl" or not cfg.ssl.backbone:
            raise ValueError("SSLEncoder needs an EncoderConfig of kind 'ssl' with a resolved backbone")
        self.cfg = cfg
        self.backbone = AutoModel.from_config(backbone_config(cfg.ssl))
        layers = self.backbone.encoder.layers
        self.layer_weights = nn.Parameter(torch.zeros(len(layers) + 1))  # softmax -> uniform at the start
        self.backbone_frozen = False  # set by the training loop for the first freeze_backbone_updates updates
        self._tls = threading.local()  # the states of the forward pass running in this thread (predict runs several)
        for i, layer in enumerate(layers):
            layer.register_forward_pre_hook(self._record_input)
            layer.register_forward_hook(functools.partial(self._record_output, i))  # (a copy's hooks are the copy's)
        if cfg.ssl.freeze_feature_encoder:  # HubertModel lacks freeze_feature_encoder(); every feature encoder has this
            self.backbone.feature_extractor._freeze_parameters()
        if cfg.ssl.gradient_checkpointing:
            self.backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})

    @property
    def num_layers(self) -> int:
        return len(self.layer_weights) - 1

    def __getstate__(self):  # copy / pickle: a thread-local holds no state between calls
        return {k: v for k, v in self.__dict__.items() if k != "_tls"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._tls = threading.local()

    def _record_input(self, module, args) -> None:
        states = self._tls.states
        if states[0] is None:  # the first layer that runs reads the embedding output h_0
            states[0] = args[0]

    def _record_output(self, i: int, module, args, out) -> None:
        self._tls.states[i + 1] = out[0] if isinstance(out, tuple) else out

    def layer_states(self, wave: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """wave (B, N), mask (B, N) -> the L + 1 hidden states, (L+1, B, T', H)."""
        self._tls.states = [None] * (self.num_layers + 1)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.backbone_frozen), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Support for mismatched key_padding_mask")  # WavLM's own call
            self.backbone(wave, attention_mask=mask.long())
        states, prev = [], None
        for s in self._tls.states:  # a layer LayerDrop skipped computed the identity
            prev = s if s is not None else prev
            states.append(prev)
        self._tls.states = []
        return torch.stack(states)

    def states(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (B, T, 160) PCM frames, lengths (B,) in frames -> the L + 1 hidden states (L+1, B, T', H),
        out_lengths (B,)."""
        B, T, S = feats.shape
        wave = feats.reshape(B, T * S)  # (B, N)
        mask = torch.arange(T * S, device=feats.device)[None, :] < (lengths.to(feats.device) * S)[:, None]  # (B, N)
        if self.cfg.ssl.normalize_waveform:
            m = mask.to(wave.dtype)
            n = m.sum(1, keepdim=True).clamp_min(1.0)
            mean = (wave * m).sum(1, keepdim=True) / n
            var = (((wave - mean) ** 2) * m).sum(1, keepdim=True) / n
            wave = (wave - mean) / torch.sqrt(var + 1e-7) * m  # (B, N), padding stays 0
        return self.layer_states(wave, mask), self.cfg.output_length(lengths)  # (L+1, B, T', H), (B,)

    def mix(self, states: torch.Tensor, layer_weights: torch.Tensor | None = None) -> torch.Tensor:
        """The softmax-weighted layer sum, with this encoder's weights or given ones. (L+1, B, T', H) -> (B, T', H)."""
        w = torch.softmax(self.layer_weights if layer_weights is None else layer_weights, dim=0).to(states.dtype)
        return (w[:, None, None, None] * states).sum(0)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (B, T, 160) PCM frames, lengths (B,) in frames -> encodings (B, T', H), out_lengths (B,)."""
        states, out_lengths = self.states(feats, lengths)
        return self.mix(states), out_lengths
