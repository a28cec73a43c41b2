"""Acoustic encoder (paper §4.1-4.2): SpecAugment -> stack 3 / skip 2 -> 5 x BiLSTM(192).

Frame arithmetic (made explicit): with T input frames of 40-dim LFBE at 10 ms, output step t stacks input
frames 2t, 2t+1, 2t+2 into one 120-dim vector, so T' = (T - 3) // 2 + 1 steps at a 20 ms rate
(T < 3 gives T' = 0: too short). Example: 1 s of audio = 98 frames -> 48 steps.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from sa2sr_core.config.models import EncoderConfig


def validating() -> bool:
    """False while the model is traced or exported: data-dependent input checks cannot be part of a graph
    (`sa2sr predict` and the exported graphs' callers check lengths before the model)."""
    return not (torch.jit.is_tracing() or torch.compiler.is_exporting() or torch.compiler.is_compiling())


def spec_augment(x: torch.Tensor, lengths: torch.Tensor, cfg: EncoderConfig) -> torch.Tensor:
    """Time and frequency masking (masked values set to 0, the per-utterance mean) with probability p per
    utterance; vectorised over the batch on x's device, with no host synchronisation. Per masked utterance:
    `freq_masks` bands of width w ~ U{0..freq_width} starting at f0 ~ U{0..max(1, F - w) - 1}, and
    `time_masks` spans of width w ~ U{0..min(time_width, max(1, n // 5))} starting at t0 ~ U{0..max(1, n - w) - 1}
    (n: the utterance's length). (B, T, F) -> (B, T, F)."""
    B, T, F = x.shape
    dev = x.device
    apply = torch.rand(B, device=dev) < cfg.specaug_p  # (B,)
    f, t = torch.arange(F, device=dev), torch.arange(T, device=dev)
    fmask = torch.zeros(B, F, dtype=torch.bool, device=dev)
    for _ in range(cfg.freq_masks):
        w = torch.randint(0, cfg.freq_width + 1, (B,), device=dev)
        f0 = (torch.rand(B, device=dev) * (F - w).clamp_min(1)).long()
        fmask |= (f >= f0[:, None]) & (f < (f0 + w)[:, None])  # (B, F)
    n = lengths.to(dev)
    tmask = torch.zeros(B, T, dtype=torch.bool, device=dev)
    w_max = (n // 5).clamp_min(1).clamp_max(cfg.time_width)  # (B,)
    for _ in range(cfg.time_masks):
        w = (torch.rand(B, device=dev) * (w_max + 1)).long()
        t0 = (torch.rand(B, device=dev) * (n - w).clamp_min(1)).long()
        tmask |= (t >= t0[:, None]) & (t < (t0 + w)[:, None])  # (B, T)
    mask = (fmask[:, None, :] | tmask[:, :, None]) & apply[:, None, None]  # (B, T, F)
    return x.masked_fill(mask, 0.0)


def stack_frames(x: torch.Tensor, stack: int, skip: int) -> torch.Tensor:
    """(B, T, F) -> (B, T', stack * F) with T' = (T - stack) // skip + 1."""
    B, T, F = x.shape
    if validating() and T < stack:
        return x.new_zeros(B, 0, stack * F)
    n = (T - stack) // skip + 1  # T'
    # step t = [frame skip*t, ..., frame skip*t + stack-1]; strided slices (unlike unfold) export to ONNX
    return torch.cat([x[:, j: j + skip * (n - 1) + 1: skip] for j in range(stack)], dim=-1)  # (B, T', stack*F)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence within its own length; padding stays where it is. (B, T, H) -> (B, T, H).
    Applying it twice is the identity."""
    idx = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, T)
    rev = lengths.to(x.device).unsqueeze(1) - 1 - idx  # (B, T)
    rev = torch.where(rev >= 0, rev, idx)  # padding steps map to themselves
    return x.gather(1, rev.unsqueeze(-1).expand(-1, -1, x.shape[2]))  # (B, T, H)


class BiLSTM(nn.Module):
    """Stacked bidirectional LSTM over padded batches, exact for every valid step. Two computations of the
    same function from the same parameters (one checkpoint format, loadable on any device):

    - reversal (CPU): each layer runs a forward LSTM on the padded batch (padding sits after the valid
      steps, so it cannot reach them) and a backward LSTM on each sequence reversed within its length. This
      equals packed sequences, without their CPU backward, which is ~6x slower on length-varied batches.
    - fused (CUDA): the whole stack as one cuDNN bidirectional LSTM over packed sequences, 2-3x faster than
      the reversal on a GPU (measured on H100/H200, see README).

    `fused`: "auto" (fused on CUDA, reversal elsewhere), "always" or "never"; not part of the config.
    """

    def __init__(self, input_dim: int, hidden: int, layers: int, dropout: float = 0.0):
        super().__init__()
        dims = [input_dim] + [2 * hidden] * (layers - 1)
        self.hidden, self.layers, self.p_dropout = hidden, layers, dropout
        self.fwd = nn.ModuleList(nn.LSTM(d, hidden, batch_first=True) for d in dims)
        self.bwd = nn.ModuleList(nn.LSTM(d, hidden, batch_first=True) for d in dims)
        self.dropout = nn.Dropout(dropout)
        self.fused = "auto"
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Keras' LSTM initialisation (the paper's "tanh activation and sigmoid recurrent activation" layers):
        Glorot-uniform input weights, orthogonal recurrent weights, zero biases with forget-gate bias 1.
        PyTorch's default uniform init leaves a deep CTC model on the blank plateau far longer."""
        for lstm in [*self.fwd, *self.bwd]:
            H = lstm.hidden_size
            for g in range(4):  # gates i, f, g, o
                nn.init.xavier_uniform_(lstm.weight_ih_l0.data[g * H:(g + 1) * H])
                nn.init.orthogonal_(lstm.weight_hh_l0.data[g * H:(g + 1) * H])
            nn.init.zeros_(lstm.bias_ih_l0)
            nn.init.zeros_(lstm.bias_hh_l0)
            lstm.bias_ih_l0.data[H:2 * H] = 1.0

    def use_fused(self, x: torch.Tensor) -> bool:
        if self.fused not in ("auto", "always", "never"):
            raise ValueError(f"BiLSTM.fused must be 'auto', 'always' or 'never', got {self.fused!r}")
        return self.fused == "always" or (self.fused == "auto" and x.is_cuda and validating())

    def flat_weights(self) -> list[torch.Tensor]:
        """The parameters in the order of a fused nn.LSTM(num_layers, bidirectional=True): per layer, forward
        then reverse direction, each [w_ih, w_hh, b_ih, b_hh]."""
        return [w for f, b in zip(self.fwd, self.bwd) for m in (f, b)
                for w in (m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0)]

    def forward_fused(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The whole stack as one bidirectional LSTM call over packed sequences. (B, T, D) -> (B, T, 2H)."""
        B, T, _ = x.shape
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h0 = x.new_zeros(2 * self.layers, B, self.hidden)
        with warnings.catch_warnings():  # our weights live in per-direction modules: cuDNN compacts them per call
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            out, _, _ = torch._VF.lstm(packed.data, packed.batch_sizes, (h0, h0), self.flat_weights(), True,
                                       self.layers, self.p_dropout, self.training, True)
        y = PackedSequence(out, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        return pad_packed_sequence(y, batch_first=True, total_length=T)[0]  # (B, T, 2H), zero padded

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (B, T, D), lengths (B,) -> (B, T, 2*hidden); steps >= length hold unspecified values."""
        if self.use_fused(x):
            return self.forward_fused(x, lengths)
        for i, (f, b) in enumerate(zip(self.fwd, self.bwd)):
            if i > 0:
                x = self.dropout(x)
            h_f, _ = f(x)  # (B, T, H)
            h_b, _ = b(reverse_padded(x, lengths))  # (B, T, H), in reversed time
            x = torch.cat([h_f, reverse_padded(h_b, lengths)], dim=-1)  # (B, T, 2H)
        return x


class AcousticEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        self.lstm = BiLSTM(cfg.input_dim * cfg.stack, cfg.hidden, cfg.layers, cfg.dropout)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (B, T, 40), lengths (B,) -> encodings (B, T', 384), out_lengths (B,)."""
        if self.training and self.cfg.specaug_p > 0:
            feats = spec_augment(feats, lengths, self.cfg)
        x = stack_frames(feats, self.cfg.stack, self.cfg.skip)  # (B, T', 120)
        out_lengths = self.cfg.output_length(lengths)  # (B,)
        if validating() and (out_lengths <= 0).any():
            raise ValueError(f"utterances shorter than {self.cfg.stack} frames reached the encoder: "
                             f"lengths {lengths[out_lengths <= 0].tolist()}")
        h = self.lstm(x, out_lengths)  # (B, T', 2*hidden)
        return h, out_lengths
