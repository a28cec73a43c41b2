"""Training-step throughput of the SA2SR model on a device: how many real input frames per second the training
loop's own update (forward, backward, clipping, Adam: `training.train_step`) gets through. Used by
`sa2sr reproduce` to say how long the paper profile takes on this machine, and by the benchmarks."""

from __future__ import annotations

import numpy as np
import torch

from sa2sr_core.config.models import SA2SRConfig
from sa2sr_core.features.batches import Example, collate, plan_batches
from sa2sr_core.models.sa2sr import SA2SR
from sa2sr_core.training.loop import timed_steps
from sa2sr_core.training.pretrain import sa2sr_loss


def synthetic_batches(model_cfg: SA2SRConfig, max_frames: int, max_batch: int, n: int, seed: int = 0):
    """n batches of random LibriSpeech-like utterances (2-17 s, ~14 characters/s) under a frame budget."""
    rng = np.random.default_rng(seed)
    dim = model_cfg.encoder.input_dim
    lengths = rng.integers(200, 1700, size=max(4 * n * max_batch, 64))
    batches = []
    for idx in plan_batches(lengths, max_frames, max_batch, sort=True)[:: max(1, len(lengths) // (n * max_batch))]:
        ex = [Example(f"s{i}", rng.standard_normal((int(lengths[i]), dim)).astype(np.float32),
                      rng.integers(1, 29, size=int(lengths[i] * 0.14)).tolist(), int(rng.integers(0, 3)))
              for i in idx]
        batches.append(collate(ex))
        if len(batches) == n:
            break
    return batches


def step_throughput(model_cfg: SA2SRConfig, batches, device, lam: float = 1.0, amp: bool = False,
                    fused: str = "auto", warmup: int = 2, max_seconds: float | None = None,
                    grad_clip: float = 5.0) -> dict:
    """Frames/s of the training loop's own update (`training.train_step` with eq. 1) on batches moved to `device`
    beforehand (the first `warmup` are not timed); stops early after max_seconds of timed steps."""
    device = torch.device(device)
    torch.manual_seed(0)
    model = SA2SR(model_cfg).to(device)
    if model_cfg.encoder.kind == "bilstm":
        model.encoder.lstm.fused = fused
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    batches = [b.to(device) for b in batches]
    if len(batches) <= warmup:
        raise ValueError(f"need more than {warmup} batches (the first {warmup} warm up), got {len(batches)}")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    r = timed_steps(model, opt, sa2sr_loss(lam), batches, grad_clip, amp and device.type == "cuda", warmup,
                    max_seconds)
    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    return {**r, "peak_gpu_memory_gib": None if mem is None else round(mem, 1)}
