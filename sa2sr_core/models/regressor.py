"""Emotion regressor (paper §3.3, §4.1, Fig. 2) on the acoustic encoder's output sequence.

    encodings (B, T', 384) --masked conv k6 s3--> (B, T1, 64) --masked conv k3 s2--> (B, T2, 64)
    --sample-level normalisation, LeakyReLU(0.3)--> 4-head self-attention block (64-dim, FF 64)
    --mean + variance pooling over valid steps--> (B, 128) --linear--> (B, 3) activation, valence, dominance
                                                          `-linear--> (B, C) class logits (when cfg.classes)

The output is (B, 3), or (B, 3 + C) with a categorical head: A/V/D first, then the C logits (split_outputs).

Optional (`stats_dim > 0`, params `finetune.regressor.utterance_stats`): the utterance functionals of the
*unnormalised* LFBE (sa2sr_core.features.functionals, K = 84), which the paper's per-utterance normalisation removes
from the encoder's input, enter beside the pooled sequence:

    z = stats (B, K) standardised (training-set mean/sd, stored as buffers)
    z --dropout, linear, LeakyReLU--> (B, 64), concatenated with the pooled (B, 128): (B, 192) --linear--> (B, 3)
    + z --linear--> (B, 3)    (the linear path: initialised by `finetune` to the ridge baseline's solution)

so fine-tuning starts from the classical baseline's predictions and learns what the sequence adds to them.

Optional (`text_dim > 0`, params `finetune.text`, docs/text.md): the text features of the utterance's transcript
(sa2sr_core.features.text, E = 4: the text model's sentiment probabilities and a has-text flag [+ its pooled hidden
state]) enter the same way, beside the functionals:

    t = text (B, E) standardised (training-set mean/sd, buffers)
    t --dropout, linear, LeakyReLU--> (B, 64), concatenated: (B, 128 + 64 [+ 64]) --linear--> (B, 3)
    + t --linear--> (B, 3)    (with the functionals' linear path: one ridge on [functionals, text] starts both)

or, with late fusion (`text.fusion` late), not into the network at all: the outputs above are the speech-only
model's, y_s, and the text features have their own linear head, the text-only baseline (ridge / logistic, frozen):

    y = y_s + w * (t --linear--> (B, 3) - y_s)    w (3,): per-dimension weights chosen on Development after training
    (class logits the same way, one weight)        (0 while training: the acoustic half trains as a speech-only model)

Masks travel with the sequence: a conv output step is valid iff its whole window lies inside the valid
input (T_out = (T - k) // s + 1, "valid" convolution), padding is zeroed before every conv, excluded from
normalisation statistics, masked in attention, and excluded from pooling: an utterance gives the same output
alone and padded inside a batch.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sa2sr_core.config.models import EmotionModelConfig, RegressorConfig
from sa2sr_core.models.bilstm import validating
from sa2sr_core.models.encoder import build_encoder


def lengths_to_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(B,) -> (B, T) bool, True on valid steps."""
    return torch.arange(T, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class MaskedConv1d(nn.Module):
    """Valid 1-D convolution over (B, T, C) that zeroes padding first and returns the output lengths."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x * lengths_to_mask(lengths, x.shape[1]).unsqueeze(-1)  # (B, T, C_in), padding zeroed
        y = self.conv(x.transpose(1, 2)).transpose(1, 2)  # (B, T_out, C_out)
        out_lengths = torch.clamp((lengths - self.kernel) // self.stride + 1, min=0)
        return y, out_lengths


def masked_mean_var(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and (population) variance over valid steps. x (B, T, C), mask (B, T) -> (B, C), (B, C)."""
    m = mask.unsqueeze(-1).to(x.dtype)
    n = m.sum(1).clamp_min(1.0)  # (B, 1)
    mean = (x * m).sum(1) / n
    var = (((x - mean.unsqueeze(1)) ** 2) * m).sum(1) / n
    return mean, var


class SelfAttention(nn.Module):
    """Multi-head self-attention with a key padding mask; the parameters (and their names) of
    nn.MultiheadAttention, written out so that it exports to ONNX with dynamic batch and time axes."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        assert dim % heads == 0, f"attention dim {dim} is not divisible by {heads} heads"
        self.heads, self.dropout = heads, dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, C), mask (B, T) True on valid steps -> (B, T, C); padded keys get no attention."""
        B, C = x.shape[0], x.shape[2]
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)  # (B, T, C) each
        q, k, v = (t.reshape(B, -1, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, C/H)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :],
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, C/H)
        return self.out_proj(y.transpose(1, 2).reshape(B, -1, C))  # (B, T, C)


class EmotionRegressor(nn.Module):
    def __init__(self, cfg: RegressorConfig):
        super().__init__()
        self.cfg = cfg
        dims = [cfg.input_dim] + [cfg.channels] * len(cfg.kernels)
        self.convs = nn.ModuleList(MaskedConv1d(a, b, k, s) for a, b, k, s in
                                   zip(dims, dims[1:], cfg.kernels, cfg.strides))
        self.act = nn.LeakyReLU(cfg.leaky_slope)
        self.attn = SelfAttention(cfg.channels, cfg.heads, cfg.dropout)
        self.norm1 = nn.LayerNorm(cfg.channels)
        self.ff = nn.Sequential(nn.Linear(cfg.channels, cfg.channels), nn.ReLU(), nn.Dropout(cfg.dropout),
                                nn.Linear(cfg.channels, cfg.channels))
        self.norm2 = nn.LayerNorm(cfg.channels)
        pooled = 2 * cfg.channels
        if cfg.stats_dim > 0:
            self.register_buffer("stats_mean", torch.zeros(cfg.stats_dim))
            self.register_buffer("stats_std", torch.ones(cfg.stats_dim))
            self.stats_proj = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.stats_dim, cfg.channels),
                                            nn.LeakyReLU(cfg.leaky_slope))
            self.stats_linear = nn.Linear(cfg.stats_dim, cfg.outputs)
            pooled += cfg.channels
        if cfg.text_dim > 0:  # the transcript's text features, standardised like the functionals (either fusion)
            self.register_buffer("text_mean", torch.zeros(cfg.text_dim))
            self.register_buffer("text_std", torch.ones(cfg.text_dim))
        if cfg.joint_text_dim > 0:  # concat: beside the pooled sequence, the same way as the functionals
            self.text_proj = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.text_dim, cfg.channels),
                                           nn.LeakyReLU(cfg.leaky_slope))
            self.text_linear = nn.Linear(cfg.text_dim, cfg.outputs)
            pooled += cfg.channels
        self.out = nn.Linear(pooled, cfg.outputs)
        if cfg.classes:  # a categorical head on the same pooled representation
            self.classify = nn.Linear(pooled, len(cfg.classes))
            if cfg.class_linear and cfg.stats_dim + cfg.joint_text_dim > 0:  # + a linear path on the side inputs
                self.side_classify = nn.Linear(cfg.stats_dim + cfg.joint_text_dim, len(cfg.classes))
        if cfg.late_text:  # the text-only baseline as a head of its own; the acoustic half draws no other numbers
            with torch.random.fork_rng(devices=[]):
                self.text_linear = nn.Linear(cfg.text_dim, cfg.outputs)
                self.register_buffer("text_weight", torch.zeros(cfg.outputs))  # set on Development after training
                if cfg.classes:
                    self.text_classify = nn.Linear(cfg.text_dim, len(cfg.classes))
                    self.register_buffer("text_class_weight", torch.zeros(1))

    @torch.no_grad()
    def start_from_linear(self, mean: torch.Tensor, std: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Make the whole regressor compute a given linear model of the standardised side inputs, z = ([stats, text]
        - mean) / std -> z @ weight.T + bias (weight (3, K + E), bias (3,); the inputs this regressor reads, in that
        order): the linear paths take it, and the output layer starts at zero, so the sequence path adds nothing
        until training gives it weight."""
        self.standardise_side(mean, std)
        K = self.cfg.stats_dim
        if K > 0:
            self.stats_linear.weight.copy_(weight[:, :K])
            self.stats_linear.bias.copy_(bias)
        if self.cfg.joint_text_dim > 0:
            self.text_linear.weight.copy_(weight[:, K:])
            if K > 0:
                self.text_linear.bias.zero_()  # the bias once, on the functionals' path
            else:
                self.text_linear.bias.copy_(bias)
        self.out.weight.zero_()
        self.out.bias.zero_()

    @torch.no_grad()
    def start_classes_from_linear(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Make the class logits a given linear model of the standardised side inputs (weight (C, K + E), bias (C,),
        in this regressor's standardisation: set it first): the side path takes it and the pooled head starts at
        zero, so the class head starts at that model's predictions."""
        self.side_classify.weight.copy_(weight)
        self.side_classify.bias.copy_(bias)
        self.classify.weight.zero_()
        self.classify.bias.zero_()

    def side_scale(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, sd) of the side inputs ([stats, text] columns) this regressor standardises with."""
        parts = [(self.stats_mean, self.stats_std)] if self.cfg.stats_dim > 0 else []
        if self.cfg.joint_text_dim > 0:
            parts.append((self.text_mean, self.text_std))
        return torch.cat([m for m, _ in parts]), torch.cat([s for _, s in parts])

    @torch.no_grad()
    def standardise_side(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Only the standardisation of the side inputs ([stats, text] columns), e.g. for a class head alone."""
        K = self.cfg.stats_dim
        if K > 0:
            self.stats_mean.copy_(mean[:K])
            self.stats_std.copy_(std[:K].clamp_min(1e-3))
        if self.cfg.joint_text_dim > 0:
            self.text_mean.copy_(mean[K:])
            self.text_std.copy_(std[K:].clamp_min(1e-3))

    @torch.no_grad()
    def start_text_head(self, mean: torch.Tensor, std: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                        class_weight: torch.Tensor | None = None, class_bias: torch.Tensor | None = None) -> None:
        """Late fusion: the text head becomes the text-only baselines, z = (text - mean) / std -> z @ weight.T + bias
        (A/V/D: weight (3, E)) [and z @ class_weight.T + class_bias (the class logits)]; it stays frozen."""
        self.text_mean.copy_(mean)
        self.text_std.copy_(std.clamp_min(1e-3))
        self.text_linear.weight.copy_(weight)
        self.text_linear.bias.copy_(bias)
        if class_weight is not None:
            self.text_classify.weight.copy_(class_weight)
            self.text_classify.bias.copy_(class_bias)

    @torch.no_grad()
    def set_text_weights(self, weight: torch.Tensor, class_weight: float = 0.0) -> None:
        """Late fusion: how much of each output the text head gives (0: the acoustic half alone, 1: the text alone)."""
        self.text_weight.copy_(weight)
        if self.cfg.classes:
            self.text_class_weight.fill_(class_weight)

    def forward(self, h: torch.Tensor, lengths: torch.Tensor, stats: torch.Tensor | None = None,
                text: torch.Tensor | None = None) -> torch.Tensor:
        """h (B, T', D), lengths (B,)[, stats (B, K)][, text (B, E)] -> (B, 3) activation, valence, dominance."""
        if validating() and (lengths < self.cfg.min_steps()).any():
            raise ValueError(f"utterance shorter than the regressor's receptive field ({self.cfg.min_steps()} "
                             f"encoder steps) reached the model: lengths {lengths.tolist()}")
        x = h
        for conv in self.convs:
            x, lengths = conv(x, lengths)  # (B, T1, 64) then (B, T2, 64)
        mask = lengths_to_mask(lengths, x.shape[1])  # (B, T2)
        mean, var = masked_mean_var(x, mask)
        x = (x - mean.unsqueeze(1)) / torch.sqrt(var.unsqueeze(1) + 1e-5)  # sample-level normalisation
        x = self.act(x) * mask.unsqueeze(-1)  # (B, T2, 64)
        a = self.attn(x, mask)  # (B, T2, 64)
        x = self.norm1(x + a)
        x = self.norm2(x + self.ff(x))  # (B, T2, 64)
        mean, var = masked_mean_var(x, mask)  # (B, 64) each
        pooled, linear, side = [mean, var], None, []
        if self.cfg.stats_dim > 0:
            if stats is None:
                raise ValueError("this regressor was built with utterance stats (stats_dim "
                                 f"{self.cfg.stats_dim}) but none were given")
            z = (stats - self.stats_mean) / self.stats_std  # (B, K)
            pooled.append(self.stats_proj(z))  # (B, 64)
            linear = self.stats_linear(z)  # (B, 3)
            side.append(z)
        if self.cfg.text_dim > 0:
            if text is None:
                raise ValueError(f"this regressor reads text features (text_dim {self.cfg.text_dim}, source "
                                 f"{self.cfg.text.get('source')!r}) but none were given")
            t = (text - self.text_mean) / self.text_std  # (B, E)
        if self.cfg.joint_text_dim > 0:
            pooled.append(self.text_proj(t))  # (B, 64)
            linear = self.text_linear(t) if linear is None else linear + self.text_linear(t)  # (B, 3)
            side.append(t)
        p = torch.cat(pooled, dim=-1)  # (B, 128 [+ 64] [+ 64])
        y = self.out(p) if linear is None else self.out(p) + linear  # (B, 3)
        if self.cfg.classes:
            logits = self.classify(p)  # (B, C)
            if hasattr(self, "side_classify"):  # the linear path from the logistic baseline
                logits = logits + self.side_classify(torch.cat(side, dim=-1))
        if self.cfg.late_text:  # (1 - w) acoustic + w text, per output
            y = y + self.text_weight * (self.text_linear(t) - y)  # (B, 3)
            if self.cfg.classes:
                logits = logits + self.text_class_weight * (self.text_classify(t) - logits)  # (B, C)
        if self.cfg.classes:
            return torch.cat([y, logits], dim=-1)  # (B, 3 + C): A/V/D, then the class logits
        return y


class EmotionModel(nn.Module):
    """Acoustic encoder (pre-trained or from scratch) + emotion regressor."""

    def __init__(self, cfg: EmotionModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = build_encoder(cfg.encoder)
        self.regressor = EmotionRegressor(cfg.regressor)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, stats: torch.Tensor | None = None,
                text: torch.Tensor | None = None) -> torch.Tensor:
        """feats (B, T, 40), lengths (B,)[, stats (B, K)][, text (B, E)] -> (B, 3)."""
        h, out_lengths = self.encoder(feats, lengths)  # (B, T', 384)
        return self.regressor(h, out_lengths, stats, text)

    def min_frames(self) -> int:
        """Fewest input frames that reach the regressor with one valid step."""
        return self.cfg.min_frames()


def split_outputs(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3 + C) -> A/V/D (B, 3) and class logits (B, C) (C = 0 without a categorical head)."""
    return out[:, :3], out[:, 3:]


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """L_CCC = -(CCC_A + CCC_V + CCC_D) / 3 on a mini-batch (paper eq. 2-3). (B, 3), (B, 3) -> (loss, ccc (3,))."""
    mp, mt = pred.mean(0), target.mean(0)
    vp, vt = pred.var(0, unbiased=False), target.var(0, unbiased=False)
    cov = ((pred - mp) * (target - mt)).mean(0)
    ccc = 2 * cov / (vp + vt + (mp - mt) ** 2 + 1e-8)  # (3,)
    return -ccc.mean(), ccc
